"""A record of one run of an automated action."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


def utc_now() -> datetime:
    return datetime.now(UTC)


class ActionStatus(StrEnum):
    """Where an action execution stands."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ActionExecution(SQLModel, table=True):
    """One run of an action: what ran, with which parameters, how it ended."""

    __tablename__ = "action_execution"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    action_name: str = Field(index=True, min_length=1, max_length=200)
    status: ActionStatus = Field(default=ActionStatus.PENDING, index=True)
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result: str | None = None
    attempts: int = Field(default=0, ge=0)
    started_at: datetime = Field(default_factory=utc_now)
    finished_at: datetime | None = None
