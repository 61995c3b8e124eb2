"""The query tree as SQLAlchemy clauses, with the same meaning on both dialects.

Strings compare by code point (PostgreSQL: the "C" collation, whatever the database's), enums
by declaration order (a CASE over the members), ``startswith`` literally (``substr``, not LIKE,
whose wildcards and case rules differ), NULLs last ascending and first descending. The clause
builder of a model is made once per dialect (`sql_clauses`).
"""

from __future__ import annotations

import enum
import functools
import json
import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, assert_never

from sqlalchemy import (
    BigInteger,
    Integer,
    Numeric,
    Select,
    String,
    all_,
    and_,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.sqlite import pysqlite
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeEngine
from sqlmodel import SQLModel

from toolkit._model import ModelFacts, model_facts
from toolkit.query._evaluate import comparable
from toolkit.query._tree import (
    OPERATORS,
    And,
    Compare,
    Condition,
    InSet,
    IsNull,
    Never,
    Not,
    Or,
    Order,
    StartsWith,
)
from toolkit.repositories.sql._dialect import SqlDialect

__all__ = ["SqlClauses", "sql_clauses"]

_LONG_LIST = 500  # values in an IN list beyond which they travel as one parameter
_PARAMETERS = 10_000  # values in one condition's IN lists beyond which each list is one
_SQLITE = pysqlite.dialect()  # how SQLite stores each type (aiosqlite converts alike)


class SqlClauses:
    """Builds the clauses of conditions and orders on one model for one dialect."""

    def __init__(self, facts: ModelFacts[Any], dialect: SqlDialect) -> None:
        self._facts = facts
        self._collation = dialect.binary_collation
        self._dialect = "postgresql" if dialect.name == "postgres" else dialect.name

    def where(self, condition: Condition) -> ColumnElement[bool]:
        """The clause of ``condition``. Its IN lists travel as one parameter each where they
        are long, or where together they hold more values than a driver takes."""
        return self._where(condition, pack=_values_in(condition) > _PARAMETERS)

    def _where(self, condition: Condition, *, pack: bool) -> ColumnElement[bool]:
        match condition:
            case Compare(field=field, op=op, value=value):
                if op in ("eq", "ne"):
                    target = self._column(field)
                    bound = self._bound(field, value)
                else:
                    target = self._ordered(field)
                    bound = self._bound(field, _rank(value))
                clause: ColumnElement[bool] = OPERATORS[op](target, bound)
                return clause
            case InSet(field=field, values=values, negated=negated):
                return self._in_set(field, values, negated, pack=pack)
            case IsNull(field=field, negated=negated):
                plain = self._facts.column_of[field]
                return plain.is_not(None) if negated else plain.is_(None)
            case Never(field=field):
                # False where the column has a value, unknown where it is NULL, as comparing
                # with a value no row holds would be.
                plain = self._facts.column_of[field]
                return plain != plain
            case StartsWith(field=field, prefix=prefix, negated=negated):
                head = func.substr(self._facts.column_of[field], 1, len(prefix))
                return head != prefix if negated else head == prefix
            case Not(item=item):
                return not_(self._where(item, pack=pack))
            case And(items=items):
                return and_(*(self._where(item, pack=pack) for item in items))
            case Or(items=items):
                return or_(*(self._where(item, pack=pack) for item in items))
            case _:
                assert_never(condition)

    def _in_set(
        self, field: str, values: Sequence[Any], negated: bool, *, pack: bool
    ) -> ColumnElement[bool]:
        column = self._column(field)
        if len(values) > (1 if pack else _LONG_LIST):
            # A parameter per value would break the drivers' limits (asyncpg: 32,767; SQLite
            # builds: 999 to 250,000): one parameter holds them all.
            if self._dialect == "postgresql":
                array = bindparam(None, list(values), type_=ARRAY(self._element_type(field)))
                return column != all_(array) if negated else column == any_(array)
            encoded = self._sqlite_json(field, values)
            if encoded is not None:
                members: Select[Any] = select(literal_column("value")).select_from(
                    func.json_each(bindparam(None, encoded, type_=String))
                )
                return column.not_in(members) if negated else column.in_(members)
        bounds = [self._bound(field, value) for value in values]
        return column.not_in(bounds) if negated else column.in_(bounds)

    def _element_type(self, field: str) -> TypeEngine[Any]:
        kind = self._facts.kinds[field]
        if kind is int:
            return BigInteger()
        if kind is Decimal:  # not the column's scale, which asyncpg would round values to
            return Numeric(asdecimal=True)
        return self._facts.column_of[field].type

    def _sqlite_json(self, field: str, values: Sequence[Any]) -> str | None:
        """``values`` as SQLite stores them (the column type's own conversion), in JSON; None
        for values JSON has no form for (bytes), which travel one parameter each."""
        column_type = self._facts.column_of[field].type.dialect_impl(_SQLITE)
        convert = column_type.bind_processor(_SQLITE)
        parts = []
        for value in values:
            stored = value if convert is None or value is None else convert(value)
            if isinstance(stored, float) and not math.isfinite(stored):
                parts.append("9e999" if stored > 0 else "-9e999")  # SQLite's infinities
            elif stored is None or isinstance(stored, int | float | str):
                parts.append(json.dumps(stored))
            else:
                return None
        return "[" + ",".join(parts) + "]"

    def order_by(self, orders: Sequence[Order]) -> list[ColumnElement[Any]]:
        return [
            self._ordered(order.field).desc().nulls_first()
            if order.descending
            else self._ordered(order.field).asc().nulls_last()
            for order in orders
        ]

    def _bound(self, field: str, value: Any) -> Any:
        kind = self._facts.kinds[field]
        # An integer beyond the column's own width compares as a number (asyncpg would refuse
        # to bind 2**40 as the int4 an INTEGER column asks for).
        if kind is int and type(value) is int:
            return literal(value, BigInteger)
        # Likewise a Decimal with more digits than the column keeps (asyncpg would round
        # -1.499 to the NUMERIC(12, 2) of the column, -1.50, before comparing).
        if kind is Decimal and isinstance(value, Decimal):
            return literal(value, Numeric(asdecimal=True))
        return value

    def _column(self, field: str) -> ColumnElement[Any]:
        column: ColumnElement[Any] = self._facts.column_of[field]
        if self._facts.kinds[field] is str and self._collation:
            column = column.collate(self._collation)
        return column

    def _ordered(self, field: str) -> ColumnElement[Any]:
        """The column as it orders: enums by declaration order, strings by code point."""
        kind = self._facts.kinds[field]
        column = self._facts.column_of[field]
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            # SQLAlchemy stores an enum by member name (a native enum's label on PostgreSQL).
            ranks = {member.name: rank for rank, member in enumerate(kind)}
            return case(ranks, value=cast(column, String))
        if kind is bool:  # SQL refuses `flag > true`; as integers, false < true
            return cast(column, Integer)
        return self._column(field)


def _values_in(condition: Condition) -> int:
    """How many values the IN lists of ``condition`` hold."""
    match condition:
        case InSet(values=values):
            return len(values)
        case Not(item=item):
            return _values_in(item)
        case And(items=items) | Or(items=items):
            return sum(_values_in(item) for item in items)
    return 0


@functools.cache
def sql_clauses(model: type[SQLModel], dialect: SqlDialect) -> SqlClauses:
    """The clause builder of ``model`` for ``dialect`` (made once per pair)."""
    return SqlClauses(model_facts(model), dialect)


def _rank(value: Any) -> Any:
    """A compared value as its column orders: enums by declaration order, booleans as 0 and 1."""
    if isinstance(value, bool):
        return int(value)
    return comparable(value)
