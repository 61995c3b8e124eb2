"""The query tree as SQLAlchemy clauses, with the same meaning on both dialects.

Strings compare by code point (PostgreSQL: the "C" collation, whatever the database's), enums
by declaration order (a CASE over the members), ``startswith`` literally (``substr``, not LIKE,
whose wildcards and case rules differ), NULLs last ascending and first descending. The clause
builder of a model is made once per dialect (`sql_clauses`).
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, assert_never

from sqlalchemy import (
    BigInteger,
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
    Not,
    Or,
    Order,
    StartsWith,
)
from toolkit.repositories.sql._dialect import SqlDialect

__all__ = ["SqlClauses", "sql_clauses"]


class SqlClauses:
    """Builds the clauses of conditions and orders on one model for one dialect."""

    def __init__(self, facts: ModelFacts[Any], dialect: SqlDialect) -> None:
        self._facts = facts
        self._collation = dialect.binary_collation

    def where(self, condition: Condition) -> ColumnElement[bool]:
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
                column = self._column(field)
                bounds = [self._bound(field, value) for value in values]
                return column.not_in(bounds) if negated else column.in_(bounds)
            case IsNull(field=field, negated=negated):
                plain = self._facts.column_of[field]
                return plain.is_not(None) if negated else plain.is_(None)
            case StartsWith(field=field, prefix=prefix, negated=negated):
                head = func.substr(self._facts.column_of[field], 1, len(prefix))
                return head != prefix if negated else head == prefix
            case Not(item=item):
                return not_(self.where(item))
            case And(items=items):
                return and_(*(self.where(item) for item in items))
            case Or(items=items):
                return or_(*(self.where(item) for item in items))
            case _:
                assert_never(condition)

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


@functools.cache
def sql_clauses(model: type[SQLModel], dialect: SqlDialect) -> SqlClauses:
    """The clause builder of ``model`` for ``dialect`` (made once per pair)."""
    return SqlClauses(model_facts(model), dialect)


def _rank(value: Any) -> Any:
    """A compared value as its column orders: enums by declaration order, booleans as 0 and 1."""
    if isinstance(value, bool):
        return int(value)
    return comparable(value)
