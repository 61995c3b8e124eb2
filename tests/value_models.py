"""Models for the hostile-value suite (``tests/test_value_properties.py``): one table per kind of
value, each field optional so that a row can carry one hostile value and nothing else.

Table names start with ``value_``. Integers come in the three SQL widths (SQLModel's default
for ``int`` is ``Integer``, 32 bits); Decimals unconstrained and ``NUMERIC(12, 2)``; text plain,
constrained and e-mail; JSON under a ``dict[str, Any]`` field and an ``Any`` one.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any

from pydantic import EmailStr
from sqlalchemy import JSON, BigInteger, Column, SmallInteger
from sqlmodel import Field, SQLModel

__all__ = [
    "ValueDecimal",
    "ValueDocument",
    "ValueKeyed",
    "ValueLevel",
    "ValueMoment",
    "ValueMood",
    "ValueNumber",
    "ValueText",
]


class ValueMood(StrEnum):
    """Values that are metacharacters somewhere: of LIKE, of RediSearch tags, of keys; two
    that differ only in case (tags must stay case-sensitive), and the empty string."""

    EMPTY = ""
    SPACE = "a b"
    PIPE = "x|y"
    WILDCARDS = "%_"
    BACKSLASH = "\\"
    BRACES = "{t}"
    ACCENT = "Ünï"
    EMOJI = "\U0001f600"
    UPPER = "Mixed"
    LOWER = "mixed"


class ValueLevel(IntEnum):
    """Values at the edges of the integer widths and of the doubles a search index holds."""

    LOWEST = -(2**63)
    MINUS_ONE = -1
    ZERO = 0
    SEVEN = 7
    BEYOND_DOUBLES = 2**53 + 1
    HIGHEST = 2**63 - 1
    BEYOND_64_BITS = 2**64 + 1


class ValueText(SQLModel, table=True):
    """Text: unconstrained, constrained (2 to 40 characters), an e-mail address."""

    __tablename__ = "value_text"

    id: int | None = Field(default=None, primary_key=True)
    text: str | None = None
    short: str | None = Field(default=None, min_length=2, max_length=40)
    email: EmailStr | None = None


class ValueKeyed(SQLModel, table=True):
    """A text primary key given by the caller."""

    __tablename__ = "value_keyed"

    id: str = Field(primary_key=True)
    label: str | None = None


class ValueNumber(SQLModel, table=True):
    """Integers of each SQL width, a boolean, a float."""

    __tablename__ = "value_number"

    id: int | None = Field(default=None, primary_key=True)
    small: int | None = Field(default=None, sa_type=SmallInteger)
    regular: int | None = None
    big: int | None = Field(default=None, sa_type=BigInteger)
    flag: bool | None = None
    real: float | None = None


class ValueDecimal(SQLModel, table=True):
    """A Decimal without bounds, and one with 12 digits of which 2 decimal places."""

    __tablename__ = "value_decimal"

    id: int | None = Field(default=None, primary_key=True)
    amount: Decimal | None = None
    price: Decimal | None = Field(default=None, max_digits=12, decimal_places=2)


class ValueMoment(SQLModel, table=True):
    """A UUID key (given or generated), a datetime, a date, a UUID and two enums."""

    __tablename__ = "value_moment"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    at: datetime | None = None
    day: date | None = None
    token: uuid.UUID | None = None
    mood: ValueMood | None = None
    level: ValueLevel | None = None


class ValueDocument(SQLModel, table=True):
    """JSON: an object, and any JSON value at all."""

    __tablename__ = "value_document"

    id: int | None = Field(default=None, primary_key=True)
    data: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    anything: Any = Field(default=None, sa_column=Column(JSON))
