"""Queries through RediSearch: the query tree as search queries, on the index `_schema` derives.

Pure: no I/O.

A condition becomes two search queries, the rows where it is TRUE and those where it is FALSE
(a NULL makes a comparison neither), which `Not`, `And` and `Or` combine as SQL's three-valued
logic does. What the index answers exactly is marked so; what it cannot (ranges on strings,
``startswith``, floats, integers beyond 2**53, which the index holds as doubles) widens to every
row, and the caller checks the candidates in Python (`toolkit.query._evaluate`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, assert_never

from sqlmodel import SQLModel

from toolkit.query._evaluate import comparable
from toolkit.query._tree import (
    OPERATORS,
    And,
    Compare,
    ComparisonOp,
    Condition,
    InSet,
    IsNull,
    Never,
    Not,
    Or,
    Order,
    StartsWith,
)
from toolkit.repositories.redis._codecs import EXACT_NUMBERS, is_long
from toolkit.repositories.redis._documents import RedisTable, redis_table
from toolkit.repositories.redis._schema import IndexedField, search_fields

__all__ = [
    "ALL",
    "NONE",
    "Search",
    "SearchPlan",
    "redis_search",
]

ALL = "*"
"""The query every row matches (RediSearch accepts ``*`` only as a whole query)."""

NONE = "-*"
"""A marker for the query no row matches; never sent (the caller answers without the server)."""


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """What to send for one query, and what is left to check in Python."""

    query: str  # the candidates (`ALL`: every row; `NONE`: none)
    params: tuple[str, ...]  # PARAMS of the query: name, value, name, value...
    exact: bool  # the candidates are exactly the matching rows
    sort: tuple[str, ...]  # FT.AGGREGATE arguments: the APPLYs, then SORTBY n keys...
    sorted_exactly: bool  # the index orders the rows as the query's orders do
    wide: tuple[str, ...]  # ordered fields the index orders inexactly if they hold wide values
    tagged: tuple[str, ...]  # text fields matched by tag: inexact if they hold long texts


@dataclass(frozen=True, slots=True)
class _Truth:
    """The rows where a condition is true and where it is false, each exactly or a superset."""

    true: str
    false: str
    true_exact: bool
    false_exact: bool

    def negated(self) -> _Truth:
        return _Truth(self.false, self.true, self.false_exact, self.true_exact)


_PLANS = 512  # plans kept per model


class Search:
    """Turns conditions and orders on one model into search queries."""

    def __init__(self, described: RedisTable[Any]) -> None:
        self._table = described
        self._fields = search_fields(described)
        self._plans: dict[tuple[Condition | None, tuple[Order, ...]], SearchPlan] = {}

    def plan(self, condition: Condition | None, orders: Sequence[Order]) -> SearchPlan:
        """The plan of a query, kept for the last `_PLANS` asked for (conditions are frozen
        trees of values coerced to their fields' types: equal trees, one query)."""
        key = (condition, tuple(orders))
        try:
            return self._plans[key]
        except KeyError:
            pass
        except TypeError:  # a value that cannot be hashed (a JSON field's): not kept
            return self._plan(condition, orders)
        if len(self._plans) >= _PLANS:
            del self._plans[next(iter(self._plans))]  # the oldest
        plan = self._plans[key] = self._plan(condition, orders)
        return plan

    def _plan(self, condition: Condition | None, orders: Sequence[Order]) -> SearchPlan:
        params: list[str] = []
        truth = _NO_FILTER if condition is None else self._truth(condition, params)
        sort, sorted_exactly, wide = self._sort(orders)
        tagged = tuple(sorted(_fields_of(condition).intersection(self._table.tagged_text)))
        return SearchPlan(
            truth.true, tuple(params), truth.true_exact, sort, sorted_exactly, tuple(wide), tagged
        )

    # --- conditions ----------------------------------------------------------------------------
    # No query holds a negation: RediSearch loses rows for one inside an OR inside an AND (seen
    # with 2.10: `@a:[1 +inf] (@a:[-inf (1] | (@a:[1 1] -ismissing(@b)))` misses matches that
    # the same query without the outer term finds). What only a negation could say (a string
    # field is not a value, or not NULL) widens to every row, and is checked in Python.

    def _truth(self, condition: Condition, params: list[str]) -> _Truth:
        """Where ``condition`` is true and where false; tag values go to ``params``."""
        match condition:
            case Compare(field=field, op=op, value=value):
                return self._compare(field, op, value, params)
            case InSet(field=field, values=values, negated=negated):
                truth = self._in_set(field, values, params)
                return truth.negated() if negated else truth
            case IsNull(field=field, negated=negated):
                truth = self._is_null(field, params)
                return truth.negated() if negated else truth
            case Never(field=field):
                return self._never(field, params)
            case StartsWith():
                return _WIDE
            case Not(item=item):
                return self._truth(item, params).negated()
            case And(items=items):
                ranges, others = self._ranges(items)
                parts = [*ranges, *(self._truth(item, params) for item in others)]
                return _Truth(
                    _all_of([part.true for part in parts]),
                    _any_of([part.false for part in parts]),
                    all(part.true_exact for part in parts),
                    all(part.false_exact for part in parts),
                )
            case Or(items=items):
                parts = [self._truth(item, params) for item in items]
                return _Truth(
                    _any_of([part.true for part in parts]),
                    _all_of([part.false for part in parts]),
                    all(part.true_exact for part in parts),
                    all(part.false_exact for part in parts),
                )
            case _:
                assert_never(condition)

    def _ranges(self, items: Sequence[Condition]) -> tuple[list[_Truth], list[Condition]]:
        """The comparisons of ``items`` on each NUMERIC field merged into one range per field
        (``age >= 20 AND age <= 30`` as ``@age:[20 30]``: an intersection of two open ranges
        costs as much as the table is large), and the other items."""
        bounds: dict[str, tuple[tuple[float, bool], tuple[float, bool]]] = {}
        others: list[Condition] = []
        for item in items:
            if not isinstance(item, Compare) or item.op == "ne":
                others.append(item)
                continue
            indexed = self._fields.get(item.field)
            if indexed is None or not indexed.numeric or indexed.members is not None:
                others.append(item)
                continue
            stored = self._stored(item.field, item.value)
            if not -EXACT_NUMBERS < stored < EXACT_NUMBERS:
                others.append(item)
                continue
            low, high = bounds.get(item.field, ((-math.inf, True), (math.inf, True)))
            if item.op in ("gt", "ge", "eq"):
                low = max(low, (stored, item.op != "gt"), key=_low_key)
            if item.op in ("lt", "le", "eq"):
                high = min(high, (stored, item.op != "lt"), key=_high_key)
            bounds[item.field] = (low, high)
        return [_range(field, low, high) for field, (low, high) in bounds.items()], others

    def _is_null(self, field: str, params: list[str]) -> _Truth:
        indexed = self._fields.get(field)
        if indexed is None:
            return _WIDE
        present = self._present(indexed, params)
        return _Truth(f"ismissing(@{field})", present, True, present != ALL)

    def _never(self, field: str, params: list[str]) -> _Truth:
        """True nowhere; false where the field has a value (unknown where NULL)."""
        indexed = self._fields.get(field)
        present = ALL if indexed is None else self._present(indexed, params)
        return _Truth(NONE, present, True, present != ALL)

    def _present(self, indexed: IndexedField, params: list[str]) -> str:
        """The rows where the field has a value: a positive query, or ALL (a superset)."""
        if indexed.members is not None:
            return self._members(indexed, indexed.members, params)
        if indexed.numeric:
            return f"@{indexed.name}:[-inf +inf]"
        return ALL

    def _compare(self, field: str, op: ComparisonOp, value: Any, params: list[str]) -> _Truth:
        indexed = self._fields.get(field)
        if indexed is None:
            return _WIDE
        if indexed.members is not None:  # few values: the comparison as sets of them
            test = OPERATORS[op]
            chosen = [m for m in indexed.members if test(comparable(m), comparable(value))]
            others = [m for m in indexed.members if m not in chosen]
            true = self._members(indexed, chosen, params)
            return _Truth(true, self._members(indexed, others, params), True, True)
        stored = self._stored(field, value)
        if indexed.numeric:
            if not -EXACT_NUMBERS < stored < EXACT_NUMBERS:
                return _WIDE
            below, above = f"@{field}:[-inf ({stored}]", f"@{field}:[({stored} +inf]"
            at_most, at_least = f"@{field}:[-inf {stored}]", f"@{field}:[{stored} +inf]"
            equal = f"@{field}:[{stored} {stored}]"
            ranges = {
                "eq": (equal, _any_of([below, above])),
                "ne": (_any_of([below, above]), equal),
                "lt": (below, at_least),
                "le": (at_most, above),
                "gt": (above, at_most),
                "ge": (at_least, below),
            }
            true, false = ranges[op]
            return _Truth(true, false, True, True)
        if op in ("eq", "ne") and "\x00" not in stored:  # a tag ends at a NUL
            equal = f"@{field}:{{{_tag(stored, params)}}}"
            exact = not is_long(stored)  # a long text's tag is that of a shorter one
            truth = _Truth(equal, ALL, exact, False)  # "not this string": no positive query
            return truth if op == "eq" else truth.negated()
        return _WIDE  # no ranges on tags: strings and UUIDs order in Python

    def _in_set(self, field: str, values: tuple[Any, ...], params: list[str]) -> _Truth:
        if not values:  # as SQLAlchemy renders an empty IN: false, whatever the row
            return _Truth(NONE, ALL, True, True)
        parts = [self._compare(field, "eq", value, params) for value in values if value is not None]
        true = _any_of([part.true for part in parts])
        true_exact = all(part.true_exact for part in parts)
        if None in values:  # x NOT IN (..., NULL) is never true
            return _Truth(true, NONE, true_exact, True)
        indexed = self._fields.get(field)
        present = ALL if indexed is None else self._present(indexed, params)
        false = _all_of([*(part.false for part in parts), present])
        false_exact = present != ALL and all(part.false_exact for part in parts)
        return _Truth(true, false, true_exact, false_exact)

    def _members(self, indexed: IndexedField, members: Sequence[Any], params: list[str]) -> str:
        if not members:
            return NONE
        if indexed.numeric:
            return _any_of([f"@{indexed.name}:[{m.value} {m.value}]" for m in members])
        tags = " | ".join(_tag(self._stored(indexed.name, m), params) for m in members)
        return f"@{indexed.name}:{{{tags}}}"

    def _stored(self, field: str, value: Any) -> Any:
        stored = self._table.codec_of[field].encode(value)
        if isinstance(stored, bool):
            return "true" if stored else "false"
        return stored

    # --- orders --------------------------------------------------------------------------------

    def _sort(self, orders: Sequence[Order]) -> tuple[tuple[str, ...], bool, list[str]]:
        """The APPLY and SORTBY arguments of ``orders``, whether the index orders exactly as
        they do, and the NUMERIC fields whose values beyond 2**53 would make it inexact."""
        applies: list[str] = []
        keys: list[str] = []
        wide: list[str] = []
        exact = True
        for order in orders:
            indexed = self._fields.get(order.field)
            if indexed is None or not indexed.ordered:
                exact = False
                continue
            if indexed.wide:
                wide.append(order.field)
            if order.descending:  # NULLs first: the index puts them last either way
                applies += ["APPLY", f"exists(@{order.field})", "AS", f"__has_{order.field}"]
                keys += [f"@__has_{order.field}", "ASC", f"@{order.field}", "DESC"]
            else:
                keys += [f"@{order.field}", "ASC"]
        return (*applies, "SORTBY", str(len(keys)), *keys), exact, wide


@functools.cache
def redis_search(model: type[SQLModel]) -> Search:
    """The query builder of ``model`` (made once per class)."""
    return Search(redis_table(model))


_WIDE = _Truth(ALL, ALL, False, False)
"""What the index cannot answer: every row may be true, and every row may be false."""

_NO_FILTER = _Truth(ALL, NONE, True, True)


def _low_key(bound: tuple[float, bool]) -> tuple[float, bool]:
    return (bound[0], not bound[1])  # at the same value, an exclusive lower bound is higher


def _high_key(bound: tuple[float, bool]) -> tuple[float, bool]:
    return bound  # at the same value, an exclusive upper bound (False) is lower


def _range(field: str, low: tuple[float, bool], high: tuple[float, bool]) -> _Truth:
    """Where a numeric field lies between ``low`` and ``high`` (value, inclusive), and where
    it has a value outside them."""
    (start, start_in), (end, end_in) = low, high
    if start > end or (start == end and not (start_in and end_in)):
        return _Truth(NONE, f"@{field}:[-inf +inf]", True, True)
    true = f"@{field}:[{_number(start, start_in)} {_number(end, end_in)}]"
    outside = []
    if start != -math.inf:
        outside.append(f"@{field}:[-inf {_number(start, not start_in)}]")
    if end != math.inf:
        outside.append(f"@{field}:[{_number(end, not end_in)} +inf]")
    return _Truth(true, _any_of(outside), True, True)


def _number(value: float, inclusive: bool) -> str:
    if value in (math.inf, -math.inf):
        return "+inf" if value > 0 else "-inf"
    return f"{value}" if inclusive else f"({value}"


def _tag(value: str, params: list[str]) -> str:
    """A reference to ``value`` as a query parameter (exact for any text without NUL: a quoted
    tag that ends with a backslash breaks the query parser when more of the query follows)."""
    name = f"v{len(params) // 2}"
    params += [name, value.replace("\\", "\\\\")]  # a parameter's backslashes are escapes
    return f"${name}"


def _fields_of(condition: Condition | None) -> set[str]:
    """The fields ``condition`` compares with values (or matches to sets of them)."""
    match condition:
        case Compare(field=field) | InSet(field=field):
            return {field}
        case Not(item=item):
            return _fields_of(item)
        case And(items=items) | Or(items=items):
            return set().union(*(_fields_of(item) for item in items))
    return set()


def _all_of(parts: list[str]) -> str:
    if NONE in parts:
        return NONE
    kept = [part for part in parts if part != ALL]
    if not kept:
        return ALL
    return kept[0] if len(kept) == 1 else "(" + " ".join(kept) + ")"


def _any_of(parts: list[str]) -> str:
    if ALL in parts:
        return ALL
    kept = [part for part in parts if part != NONE]
    if not kept:
        return NONE
    return kept[0] if len(kept) == 1 else "(" + " | ".join(kept) + ")"
