"""Queries (`toolkit.query`) as SQLAlchemy expressions, with the same meaning on both dialects.

Strings compare by code point (PostgreSQL: the "C" collation, whatever the database's), enums
by declaration order (a CASE over the members), ``startswith`` literally (``substr``, not LIKE,
whose wildcards and case rules differ), NULLs last ascending and first descending.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    Numeric,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    not_,
    or_,
)
from sqlalchemy.sql.elements import ColumnElement

from toolkit.query import And, Compare, Condition, InSet, IsNull, Not, Order, StartsWith
from toolkit.repositories.sql_dialect import SqlDialect
from toolkit.schema import ModelInfo, strip_optional

__all__ = ["SqlQuery"]

_OPERATORS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


class SqlQuery:
    """Turns conditions and orders on one model into SQLAlchemy clauses for one dialect."""

    def __init__(self, info: ModelInfo[Any], dialect: SqlDialect) -> None:
        self._columns: dict[str, Column[Any]] = dict(
            zip(info.field_names, info.columns, strict=True)
        )
        self._kinds = {
            name: strip_optional(info.model.model_fields[name].annotation)
            for name in info.field_names
        }
        self._collation = dialect.binary_collation

    def where(self, condition: Condition) -> ColumnElement[bool]:
        if isinstance(condition, Compare):
            if condition.op in ("eq", "ne"):
                target: Any = self._column(condition.field)
                value = self._bound(condition.field, condition.value)
            else:
                target = self._ordered(condition.field)
                value = self._bound(condition.field, _rank(condition.value))
            return _OPERATORS[condition.op](target, value)
        if isinstance(condition, InSet):
            column = self._column(condition.field)
            values = [self._bound(condition.field, value) for value in condition.values]
            return column.not_in(values) if condition.negated else column.in_(values)
        if isinstance(condition, IsNull):
            column = self._columns[condition.field]
            return column.is_not(None) if condition.negated else column.is_(None)
        if isinstance(condition, StartsWith):
            column = self._columns[condition.field]
            head = func.substr(column, 1, len(condition.prefix))
            return head != condition.prefix if condition.negated else head == condition.prefix
        if isinstance(condition, Not):
            return not_(self.where(condition.item))
        if isinstance(condition, And):
            return and_(*(self.where(item) for item in condition.items))
        return or_(*(self.where(item) for item in condition.items))

    def order_by(self, orders: Sequence[Order]) -> list[ColumnElement[Any]]:
        return [
            self._ordered(order.field).desc().nulls_first()
            if order.descending
            else self._ordered(order.field).asc().nulls_last()
            for order in orders
        ]

    def _bound(self, field: str, value: Any) -> Any:
        # An integer beyond the column's own width compares as a number (asyncpg would refuse
        # to bind 2**40 as the int4 an INTEGER column asks for).
        if self._kinds[field] is int and type(value) is int:
            return literal(value, BigInteger)
        # Likewise a Decimal with more digits than the column keeps (asyncpg would round
        # -1.499 to the NUMERIC(12, 2) of the column, -1.50, before comparing).
        if self._kinds[field] is Decimal and isinstance(value, Decimal):
            return literal(value, Numeric(asdecimal=True))
        return value

    def _column(self, field: str) -> ColumnElement[Any]:
        column: ColumnElement[Any] = self._columns[field]
        if self._kinds[field] is str and self._collation:
            column = column.collate(self._collation)
        return column

    def _ordered(self, field: str) -> ColumnElement[Any]:
        """The column as it orders: enums by declaration order, strings by code point."""
        kind = self._kinds[field]
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            # SQLAlchemy stores an enum by member name (a native enum's label on PostgreSQL).
            ranks = {member.name: rank for rank, member in enumerate(kind)}
            return case(ranks, value=cast(self._columns[field], String))
        if kind is bool:  # SQL refuses `flag > true`; as integers, false < true
            return cast(self._columns[field], Integer)
        return self._column(field)


def _rank(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return list(type(value)).index(value)
    if isinstance(value, bool):
        return int(value)
    return value
