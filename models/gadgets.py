"""A gadget: one optional field of every type the portable query subset filters and orders on.

The query tests (``tests/test_query_properties.py``, ``tests/conformance/test_queries.py``) use
it. Its enum is declared in an order that is neither the order of its names nor of its values,
so that ordering by declaration is told apart from ordering by either string.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlmodel import Field, SQLModel


class GadgetKind(StrEnum):
    """What a gadget is. Declared order: MEDIUM, LARGE, SMALL (names: L < M < S; values:
    "a-small" < "m-large" < "z-medium")."""

    MEDIUM = "z-medium"
    LARGE = "m-large"
    SMALL = "a-small"


class Gadget(SQLModel, table=True):
    """An integer key the store generates, a required string, and optional fields of each type."""

    id: int | None = Field(default=None, primary_key=True)
    label: str = Field(index=True, max_length=40)
    note: str | None = Field(default=None, max_length=40)
    quantity: int | None = Field(default=None, index=True)
    ratio: float | None = None
    active: bool | None = Field(default=None, index=True)
    kind: GadgetKind | None = Field(default=None, index=True)
    token: uuid.UUID | None = None
    seen_at: datetime | None = Field(default=None, index=True)
    due_on: date | None = None
    price: Decimal | None = Field(default=None, max_digits=12, decimal_places=2)
