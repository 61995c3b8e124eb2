"""What every backend holds exactly: the one rule for the values written and the values compared.

A value is stored and read back exactly on all six paths (equal, and of the same type), or it is
refused before anything is written. Where one backend cannot hold a value, every backend refuses
it, so that a model means the same wherever it is stored:

- text: anything but NUL (PostgreSQL refuses it) and surrogate code points (UTF-8 has none);
  in an indexed column (key, unique, ``index=True``) at most `INDEXED_TEXT_BYTES` of UTF-8,
  shared among the columns of the index (PostgreSQL's B-tree holds about 2,700 bytes a row);
- integers: the range of the column's SQL type (``SMALLINT`` 16 bits, ``INTEGER`` 32, which is
  what SQLModel makes of ``int``, ``BIGINT`` 64);
- floats: finite values and the infinities; not NaN (equal to nothing, and SQLite stores NULL)
  nor -0.0 (SQLite and psycopg2 drop the sign);
- Decimals: finite, at most 15 significant digits, exponents -307 to 307, no negative zero
  (SQLite keeps a double, which holds exactly these);
- JSON: objects with text keys, arrays, text, integers, finite floats, booleans and null, nested
  at most `JSON_DEPTH` deep; not tuples or sets (they come back as arrays) nor NaN; not a bare
  number (SQLite's JSON column would make it a number of its own: 1.0 comes back as 1).

Each ``*_problem`` function returns what is wrong with a value, or None when it is held.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Integer, SmallInteger

__all__ = [
    "DECIMAL_DIGITS",
    "DECIMAL_EXPONENTS",
    "INDEXED_TEXT_BYTES",
    "JSON_DEPTH",
    "Beyond",
    "Check",
    "decimal_problem",
    "float_problem",
    "int_range",
    "json_problem",
    "text_problem",
    "value_check",
]

DECIMAL_DIGITS = 15
"""Significant digits a Decimal may have: a double holds every such number exactly."""

DECIMAL_EXPONENTS = range(-307, 308)
"""Adjusted exponents a Decimal may have: normal doubles, without overflow."""

JSON_DEPTH = 100
"""Containers a JSON value may nest."""

INDEXED_TEXT_BYTES = 2_000
"""UTF-8 bytes of text an index entry may hold, shared among the index's columns."""

Check = Callable[[Any], str | None]
"""What is wrong with a (non-None) value of one field, or None when every backend holds it."""


def int_range(column: Column[Any]) -> range | None:
    """The integers ``column``'s SQL type holds; None for a column of another type."""
    kind = column.type
    if isinstance(kind, SmallInteger):
        return range(-(2**15), 2**15)
    if isinstance(kind, BigInteger):
        return range(-(2**63), 2**63)
    if isinstance(kind, Integer):
        return range(-(2**31), 2**31)
    return None


def value_check(kind: Any, column: Column[Any], text: bool, indexed_with: int) -> Check | None:
    """The check of a field of type ``kind`` (``| None`` removed) stored in ``column``; None
    when every value pydantic accepts for it is held. ``text``: its values are plain ``str``;
    ``indexed_with``: the most columns of an index the column is in (0: none)."""
    if isinstance(column.type, JSON):
        return json_problem
    if text and indexed_with:
        room = INDEXED_TEXT_BYTES // indexed_with
        return lambda value: text_problem(value) or _indexed_text_problem(value, room)
    if text:
        return text_problem
    if kind is float:
        return float_problem
    if kind is Decimal:
        return decimal_problem
    if kind is int:
        held = int_range(column) or range(-(2**63), 2**63)
        return lambda value: None if value in held else _int_problem(value, held)
    return None


def _int_problem(value: int, held: range) -> str:
    bits = (held.stop - held.start - 1).bit_length()
    return f"is outside the {bits}-bit integers the column holds"


def text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "holds a NUL character, which PostgreSQL cannot store"
    return _surrogate(value)


def _indexed_text_problem(value: str, room: int) -> str | None:
    if len(value) * 4 <= room:  # no character takes more than 4 bytes
        return None
    size = len(value.encode())
    if size <= room:
        return None
    return (
        f"is {size} bytes of UTF-8; an indexed column holds {room} "
        "(PostgreSQL's index entries hold about 2,700 bytes)"
    )


def _surrogate(value: str) -> str | None:
    if value.isascii():
        return None
    try:
        value.encode()
    except UnicodeEncodeError as exc:
        return f"holds the surrogate code point {value[exc.start]!r}, which UTF-8 cannot encode"
    return None


def float_problem(value: float) -> str | None:
    if value != value:
        return "is NaN, which equals nothing (SQLite would store NULL)"
    if value == 0.0 and math.copysign(1.0, value) < 0:
        return "is -0.0, whose sign SQLite and psycopg2 drop; give 0.0"
    return None


def decimal_problem(value: Decimal) -> str | None:
    if not value.is_finite():
        return "is not a finite number"
    if value.is_zero():
        if value.is_signed():
            return "is a negative zero, whose sign PostgreSQL drops; give 0"
        return None
    digits = value.as_tuple().digits
    significant = len(digits)
    while digits[significant - 1] == 0:
        significant -= 1
    if significant > DECIMAL_DIGITS:
        return (
            f"has {significant} significant digits; every backend holds {DECIMAL_DIGITS} "
            "(SQLite keeps a double)"
        )
    if value.adjusted() not in DECIMAL_EXPONENTS:
        return "is beyond the magnitudes a double holds (1E-307 to 9.99E+307)"
    return None


def json_problem(value: Any) -> str | None:
    if type(value) is int or type(value) is float:
        return "is a bare number, which SQLite's JSON column turns into a number of its own"
    return _json_problem(value, 0)


def _json_problem(value: Any, depth: int) -> str | None:
    """Walked without recursion: each level's containers, then the next level's."""
    level = [value]
    while level:
        inner: list[Any] = []
        for item in level:
            kind = type(item)
            if kind is str:
                if not item.isascii() and (problem := _surrogate(item)) is not None:
                    return problem
            elif kind is dict:
                if depth == JSON_DEPTH:
                    return f"nests more than {JSON_DEPTH} levels deep"
                for key in item:
                    if type(key) is not str:
                        return f"has the key {key!r}: JSON keys are text"
                    if not key.isascii() and (problem := _surrogate(key)) is not None:
                        return problem
                inner.extend(item.values())
            elif kind is list:
                if depth == JSON_DEPTH:
                    return f"nests more than {JSON_DEPTH} levels deep"
                inner.extend(item)
            elif kind is float:
                if item - item != 0.0:  # NaN or an infinity
                    return f"holds {item}, which JSON has no form for"
            elif kind is tuple:
                return "holds a tuple, which comes back as a list: give a list"
            elif not (kind is int or kind is bool or item is None):
                return f"holds a {kind.__name__}, which JSON has no form for"
        depth += 1  # the containers around the next level's items
        level = inner
    return None


@dataclass(frozen=True, slots=True)
class Beyond:
    """A compared value past every value of its field's type that a backend holds: above all
    of them (``high``) or below (a datetime that leaves years 1-9999 once in UTC)."""

    high: bool
