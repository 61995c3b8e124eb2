"""A shipment: one field of every type the toolkit stores, as applications declare them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


def utc_now() -> datetime:
    return datetime.now(UTC)


class ShipmentStatus(StrEnum):
    """Where a shipment is."""

    BOOKED = "booked"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    LOST = "lost"


class Shipment(SQLModel, table=True):
    """A parcel on its way: UUID key, enum, aware datetimes, date, Decimal, JSON fields."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    tracking_code: str = Field(index=True, min_length=1, max_length=40)
    pieces: int = Field(default=1, ge=1)
    weight_kg: float = Field(ge=0)
    insured: bool = False
    status: ShipmentStatus = Field(default=ShipmentStatus.BOOKED)
    # NUMERIC(12, 2). SQLite stores NUMERIC as a double, which holds 15 significant digits
    # exactly: 12 digits fit, and come back as the same Decimal on every backend.
    declared_value: Decimal = Field(max_digits=12, decimal_places=2)
    customs_fee: Decimal | None = Field(default=None, max_digits=12, decimal_places=2)
    shipped_at: datetime = Field(default_factory=utc_now)
    delivered_at: datetime | None = None
    expected_on: date
    recipient_note: str | None = Field(default=None, max_length=500)
    attempts: int | None = None
    labels: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    customs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
