"""Models for the hostile-input tests (``tests/conformance/test_hostile_input.py``): table names
that run into each other's keys, a unique constraint over two columns, a 64-bit generated key."""

from __future__ import annotations

from typing import Annotated

from pydantic import NonNegativeInt, condecimal
from sqlalchemy import BigInteger, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = ["Constrained", "Counted", "Pair", "Prefixed", "PrefixedLonger"]


class Prefixed(SQLModel, table=True):
    """A table whose name is the start of the next one's, up to a separator."""

    __tablename__ = "hostile_a"

    id: str = Field(primary_key=True)
    label: str | None = None
    code: str | None = Field(default=None, unique=True)


class PrefixedLonger(SQLModel, table=True):
    __tablename__ = "hostile_a:b"

    id: str = Field(primary_key=True)
    label: str | None = None


class Pair(SQLModel, table=True):
    """A unique constraint over two columns."""

    __tablename__ = "hostile_pair"
    __table_args__ = (UniqueConstraint("first", "second"),)

    id: int | None = Field(default=None, primary_key=True)
    first: str
    second: str


class Counted(SQLModel, table=True):
    """A 64-bit integer key the backend generates when none is given."""

    __tablename__ = "hostile_counted"

    # On SQLite only INTEGER PRIMARY KEY numbers rows (and holds 64 bits all the same).
    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite")
    )
    amount: int | None = Field(default=None, sa_type=BigInteger)
    note: str | None = None


class Constrained(SQLModel, table=True):
    """Optional fields of constrained types: ``Annotated`` inside ``X | None``."""

    __tablename__ = "hostile_constrained"

    id: int | None = Field(default=None, primary_key=True)
    count: NonNegativeInt | None = None
    ratio: Annotated[float, "a documented float"] | None = None
    amount: condecimal(max_digits=30, decimal_places=20) | None = None  # type: ignore[valid-type]
