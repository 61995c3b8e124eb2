"""The demo's own models, so that ``python -m toolkit`` runs from any install of the package.

An application declares its models in its own code; these three exist only for the tour in
`toolkit.demo` (and its sync twin). Their tables are prefixed ``demo_`` so that they never
clash with an application's tables in one `SQLModel.metadata`.

- `DemoTeam`: an integer key the database generates, and a unique name.
- `DemoHero`: a foreign key to `DemoTeam` (``RESTRICT``: a team with heroes cannot go) and a
  bounded age.
- `DemoAction`: a UUID key, an enum status, JSON parameters and an aware datetime.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

__all__ = ["DemoAction", "DemoActionStatus", "DemoHero", "DemoTeam"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DemoTeam(SQLModel, table=True):
    """A team; its name is unique."""

    __tablename__ = "demo_team"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, min_length=1, max_length=100)
    headquarters: str | None = Field(default=None, max_length=200)


class DemoHero(SQLModel, table=True):
    """A hero, who may belong to a team."""

    __tablename__ = "demo_hero"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, min_length=1, max_length=100)
    secret_name: str = Field(max_length=100)
    age: int | None = Field(default=None, ge=0, le=10_000)
    team_id: int | None = Field(default=None, foreign_key="demo_team.id", ondelete="RESTRICT")


class DemoActionStatus(StrEnum):
    """Where an action stands."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class DemoAction(SQLModel, table=True):
    """One run of an automated action: what ran, with which parameters, how it ended."""

    __tablename__ = "demo_action"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    action_name: str = Field(index=True, min_length=1, max_length=200)
    status: DemoActionStatus = Field(default=DemoActionStatus.PENDING, index=True)
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    started_at: datetime = Field(default_factory=_utc_now)
