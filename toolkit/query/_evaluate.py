"""The query tree evaluated on rows of field values, for backends that filter in Python.

The meaning is SQL's: three-valued logic (a comparison with NULL is unknown; unknown rows are
left out), enums ranked by declaration order, NULLs last ascending and first descending.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any, assert_never

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

__all__ = ["comparable", "evaluate", "sort_rows"]

_Truth = bool | None  # None: unknown


def comparable(value: Any) -> Any:
    """How a value orders: enums by declaration order, everything else as itself."""
    if isinstance(value, enum.Enum):
        return list(type(value)).index(value)
    return value


def evaluate(condition: Condition, row: Mapping[str, Any]) -> _Truth:
    """``condition`` on a row of field values, in SQL's three-valued logic."""
    match condition:
        case Compare(field=field, op=op, value=expected):
            value = row.get(field)
            if value is None:
                return None
            return bool(OPERATORS[op](comparable(value), comparable(expected)))
        case Never(field=field):
            return None if row.get(field) is None else False
        case IsNull(field=field, negated=negated):
            return (row.get(field) is None) != negated
        case InSet():
            return _in_set(condition, row.get(condition.field))
        case StartsWith(field=field, prefix=prefix, negated=negated):
            value = row.get(field)
            if value is None:
                return None
            return bool(value.startswith(prefix)) != negated
        case Not(item=item):
            return _negate(evaluate(item, row))
        case And(items=items):
            return _all(evaluate(item, row) for item in items)
        case Or(items=items):
            return _negate(_all(_negate(evaluate(item, row)) for item in items))
        case _:
            assert_never(condition)


def _in_set(condition: InSet, value: Any) -> _Truth:
    if not condition.values:  # as SQLAlchemy renders an empty IN: false, whatever the row
        return condition.negated
    if value is None:
        return None
    members = condition.members
    if members is not None:  # equal values hash alike (1 == 1.0 == Decimal(1) included)
        hit = value in members
    else:
        hit = any(candidate == value for candidate in condition.values if candidate is not None)
    # A NULL among the values makes a miss unknown rather than false.
    found: _Truth = True if hit else None if condition.has_null else False
    return _negate(found) if condition.negated else found


def _all(truths: Any) -> _Truth:
    """SQL's AND over ``truths``: false if any is false, else unknown if any is unknown."""
    result: _Truth = True
    for truth in truths:
        if truth is False:
            return False
        if truth is None:
            result = None
    return result


def _negate(truth: _Truth) -> _Truth:
    return None if truth is None else not truth


def sort_rows(rows: list[dict[str, Any]], orders: Sequence[Order]) -> None:
    """Sort rows of field values in place by ``orders``: NULLs last ascending, first descending."""
    for order in reversed(orders):  # stable sorts, the least significant key first
        rows.sort(key=_key_of(order.field), reverse=order.descending)


def _key_of(field: str) -> Callable[[Mapping[str, Any]], tuple[bool, Any]]:
    def key(row: Mapping[str, Any]) -> tuple[bool, Any]:
        value = row.get(field)
        return (value is None, None if value is None else comparable(value))

    return key
