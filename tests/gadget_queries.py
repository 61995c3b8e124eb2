"""Queries on `Gadget` as data, and their meaning in plain Python: the oracle of the query tests.

Conditions and orders of the portable subset are small dataclasses that hypothesis generates;
each renders as the SQLAlchemy expression a user would write, and has a meaning computed here
from the rules alone (it does not use `toolkit.query`):

- SQL's three-valued logic: a comparison, ``in_``, ``not_in`` or ``startswith`` on NULL is
  unknown; ``not_`` of unknown is unknown; ``and_`` / ``or_`` as in SQL; a row is kept when its
  condition is true. ``x IN ()`` is false and ``x NOT IN ()`` true, whatever ``x``; a NULL in the
  list makes a failed ``IN`` unknown (and a failed ``NOT IN`` unknown).
- Strings compare by code point, enums by declaration order, datetimes as instants, numbers
  as numbers: a query's value is not rounded or cut to the column's scale or width (``price ==
  Decimal("-1.499")`` matches no NUMERIC(12, 2) value). ``startswith`` matches literally (``%``
  and ``_`` are characters). A bare boolean column as a condition means ``column = true``.
- NULLs sort last ascending, first descending; every order ends with the primary key ascending,
  unless the order already names it.
"""

from __future__ import annotations

import functools
import operator
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeAlias

from hypothesis import strategies as st
from sqlalchemy import and_, literal, not_, or_
from sqlmodel import col

from models import Gadget, GadgetKind

Truth: TypeAlias = bool | None
Row: TypeAlias = dict[str, Any]

# --- values ---------------------------------------------------------------------------------------

# Query metacharacters of SQL (quotes, LIKE wildcards, escapes), RediSearch (| @ { } - * ( ) : ~),
# spaces and unicode (combining marks, non-BMP, case pairs outside ASCII).
SPECIAL_STRINGS = [
    "",
    " ",
    "  ",
    "a",
    "A",
    "b",
    "ab",
    "a b",
    "a ",
    "%",
    "a%",
    "_",
    "a_",
    "'",
    "it's",
    "''",
    '"',
    '"a"',
    "|",
    "a|b",
    "@",
    "@a",
    "{",
    "}",
    "{a}",
    "-",
    "-a",
    "*",
    "a*",
    "\\",
    "a\\%",
    "(a)",
    ":",
    "~a",
    "$1",
    ";--",
    "é",
    "É",
    "e\u0301",
    "ß",
    "日本",
    "😀",
    "a😀",
    "Ω",
]
STRING_ALPHABET = "aAb %_|@{}-'\"\\é😀"

strings = st.one_of(st.sampled_from(SPECIAL_STRINGS), st.text(STRING_ALPHABET, max_size=3))
ints = st.one_of(st.integers(-3, 3), st.sampled_from([-(2**31), 2**31 - 1, 1000, -1000]))
floats = st.one_of(
    st.sampled_from(
        [
            0.0,
            0.1,
            0.2,
            0.30000000000000004,
            1 / 3,
            -1.5,
            2.0,
            1e-300,
            5e-324,
            1e300,
            -1e300,
            123456789.12345679,
            9007199254740993.0,
            float("inf"),
            float("-inf"),
        ]
    ),
    st.integers(-3, 3).map(float),
    # -0.0 is refused on every backend (SQLite cannot keep its sign); NaN too.
    st.floats(allow_nan=False).map(lambda value: value + 0.0),
)
kinds = st.sampled_from(list(GadgetKind))
UUIDS = [
    uuid.UUID(int=0),
    uuid.UUID(int=1),
    uuid.UUID(int=2**127 - 1),
    uuid.UUID(int=2**127),
    uuid.UUID(int=2**128 - 1),
    uuid.UUID("0000000f-0000-0000-0000-000000000000"),
    uuid.UUID("a0000000-0000-0000-0000-000000000001"),
]
uuids = st.sampled_from(UUIDS)
INSTANTS = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(1900, 1, 1, tzinfo=UTC),
    datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    datetime(2026, 5, 17, 9, 30, 15, 123456, tzinfo=UTC),
    datetime(2026, 5, 17, 9, 30, 15, 123457, tzinfo=UTC),
    datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
]
OFFSETS = [timedelta(0), timedelta(hours=9), timedelta(hours=-3, minutes=-30), timedelta(hours=14)]


def in_zone(instant: datetime, offset: timedelta) -> datetime:
    """The same instant with another UTC offset (in UTC where that would leave years 1-9999)."""
    try:
        return instant.astimezone(timezone(offset))
    except OverflowError:
        return instant


datetimes = st.builds(in_zone, st.sampled_from(INSTANTS), st.sampled_from(OFFSETS))
dates = st.sampled_from(
    [date(1, 1, 1), date(1969, 12, 31), date(1970, 1, 1), date(2000, 2, 29), date(9999, 12, 31)]
)
DECIMALS = ["0", "0.00", "-0.01", "0.01", "0.1", "0.10", "1", "1.5", "-1.5", "123.45"]
decimals = st.sampled_from(
    [Decimal(text) for text in [*DECIMALS, "9999999999.99", "-9999999999.99"]]
)
# Values a query may compare with beyond those a row may hold (more places, more digits).
query_decimals = st.one_of(
    decimals, st.sampled_from([Decimal("0.005"), Decimal("-1.499"), Decimal("1E+20")])
)

VALUES: dict[str, st.SearchStrategy[Any]] = {
    "label": strings,
    "note": strings,
    "quantity": ints,
    "ratio": floats,
    "active": st.booleans(),
    "kind": kinds,
    "token": uuids,
    "seen_at": datetimes,
    "due_on": dates,
    "price": decimals,
}
"""What each field may hold (besides NULL, for the optional ones)."""

# Values a query may compare with beyond those a row may hold: beyond the column's range.
query_ints = st.one_of(ints, st.sampled_from([2**40, -(2**40)]))

QUERY_VALUES: dict[str, st.SearchStrategy[Any]] = {
    **VALUES,
    "quantity": query_ints,
    "price": query_decimals,
}
"""What a condition may compare each field with."""

FIELDS = list(VALUES)
OPTIONAL_FIELDS = [name for name in FIELDS if name != "label"]
ORDERABLE = ["id", *FIELDS]
STRING_FIELDS = ["label", "note"]


@st.composite
def gadget_values(draw: st.DrawFn) -> Row:
    """The values of one gadget, without its key: NULLs often, equal values often."""
    values: Row = {"label": draw(strings)}
    for name in OPTIONAL_FIELDS:
        values[name] = draw(st.one_of(st.none(), VALUES[name]))
    return values


datasets = st.integers(0, 40).flatmap(
    lambda size: st.lists(gadget_values(), min_size=size, max_size=size)
)
"""0-40 rows, their number spread evenly (``st.lists`` alone favours short lists)."""


def gadget(values: Row) -> Gadget:
    return Gadget(**values)


def row_of(stored: Gadget) -> Row:
    """A stored gadget's values, key included."""
    return {name: getattr(stored, name) for name in ["id", *FIELDS]}


# --- conditions -----------------------------------------------------------------------------------

_OPERATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_MIRRORED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass(frozen=True)
class Compare:
    """``field <op> value``; ``mirrored`` writes it ``literal(value) <mirrored op> field``."""

    field: str
    op: str
    value: Any
    mirrored: bool = False


@dataclass(frozen=True)
class In:
    field: str
    values: tuple[Any, ...]
    negated: bool


@dataclass(frozen=True)
class Null:
    field: str
    negated: bool


@dataclass(frozen=True)
class StartsWith:
    field: str
    prefix: str
    negated: bool


@dataclass(frozen=True)
class Bare:
    """A boolean column used as the condition itself (``where(Gadget.active)``)."""

    field: str = "active"


@dataclass(frozen=True)
class All:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Either:
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Negated:
    item: Condition


Condition: TypeAlias = Compare | In | Null | StartsWith | Bare | All | Either | Negated


def column(field: str) -> Any:
    """The column of ``field``; typed ``Any`` (a SQLModel attribute is its value type to mypy)."""
    return col(getattr(Gadget, field))


def render(condition: Condition) -> Any:
    """The SQLAlchemy expression a user would write for ``condition``."""
    if isinstance(condition, Compare):
        if condition.mirrored:
            left: Any = literal(condition.value)
            return _OPERATIONS[_MIRRORED[condition.op]](left, column(condition.field))
        value: Any = condition.value
        if isinstance(value, bool) and condition.op not in ("==", "!="):
            value = literal(value)  # SQLAlchemy refuses `column < True`; it takes a literal
        return _OPERATIONS[condition.op](column(condition.field), value)
    if isinstance(condition, In):
        target = column(condition.field)
        values = list(condition.values)
        return target.not_in(values) if condition.negated else target.in_(values)
    if isinstance(condition, Null):
        target = column(condition.field)
        return target.is_not(None) if condition.negated else target.is_(None)
    if isinstance(condition, StartsWith):
        found = column(condition.field).startswith(condition.prefix)
        return not_(found) if condition.negated else found
    if isinstance(condition, Bare):
        return getattr(Gadget, condition.field)
    if isinstance(condition, All):
        return and_(*(render(item) for item in condition.items))
    if isinstance(condition, Either):
        return or_(*(render(item) for item in condition.items))
    return not_(render(condition.item))


def rank(value: Any) -> Any:
    """How a non-NULL value compares: enum members by declaration order, the rest as they are."""
    if isinstance(value, GadgetKind):
        return list(GadgetKind).index(value)
    return value


def _not(truth: Truth) -> Truth:
    return None if truth is None else not truth


def truth(condition: Condition, row: Row) -> Truth:
    """``condition`` on ``row`` in SQL's three-valued logic (None: unknown)."""
    if isinstance(condition, All):
        results = [truth(item, row) for item in condition.items]
        if False in results:
            return False
        return None if None in results else True
    if isinstance(condition, Either):
        results = [truth(item, row) for item in condition.items]
        if True in results:
            return True
        return None if None in results else False
    if isinstance(condition, Negated):
        return _not(truth(condition.item, row))
    value = row[condition.field]
    if isinstance(condition, Null):
        return (value is None) != condition.negated
    if isinstance(condition, In) and not condition.values:
        return condition.negated  # an empty IN is false, an empty NOT IN true, even for NULL
    if value is None:
        return None
    if isinstance(condition, Compare):
        return _OPERATIONS[condition.op](rank(value), rank(condition.value))
    if isinstance(condition, In):
        found: Truth
        if any(item is not None and rank(item) == rank(value) for item in condition.values):
            found = True
        elif any(item is None for item in condition.values):
            found = None
        else:
            found = False
        return _not(found) if condition.negated else found
    if isinstance(condition, StartsWith):
        return bool(value.startswith(condition.prefix)) != condition.negated
    return value is True  # Bare: the column = true


def matching(rows: Sequence[Row], where: Sequence[Condition]) -> list[Row]:
    """The rows for which every ``where`` item is true."""
    return [row for row in rows if all(truth(item, row) is True for item in where)]


def _pools(rows: Sequence[Row]) -> dict[str, st.SearchStrategy[Any]]:
    """What conditions compare each field with: often a value some row holds, so that they
    match some rows and not others; else any value of the field."""
    pools: dict[str, st.SearchStrategy[Any]] = {}
    for field in FIELDS:
        held = sorted(
            {repr(row[field]): row[field] for row in rows if row[field] is not None}.items()
        )
        if held:
            pools[field] = st.one_of(
                st.sampled_from([value for _, value in held]), QUERY_VALUES[field]
            )
        else:
            pools[field] = QUERY_VALUES[field]
    return pools


@st.composite
def _leaf(draw: st.DrawFn, pools: dict[str, st.SearchStrategy[Any]]) -> Condition:
    field = draw(st.sampled_from(FIELDS))
    kinds = ["compare", "compare", "in", "null"]
    kinds += ["startswith", "startswith"] if field in STRING_FIELDS else []
    kinds += ["bare"] if field == "active" else []
    kind = draw(st.sampled_from(kinds))
    values = pools[field]
    if kind == "compare":
        op = draw(st.sampled_from(list(_OPERATIONS)))
        mirrored = draw(st.integers(0, 4)) == 0
        return Compare(field, op, draw(values), mirrored=mirrored)
    if kind == "in":
        items = draw(st.lists(st.one_of(values, values, values, st.none()), max_size=4))
        return In(field, tuple(items), draw(st.booleans()))
    if kind == "null":
        return Null(field, draw(st.booleans()))
    if kind == "startswith":
        prefix = draw(st.one_of(values, strings, st.sampled_from(["", "a", "%", "_", "é", "😀"])))
        if draw(st.booleans()) and isinstance(prefix, str):
            prefix = prefix[: draw(st.integers(0, len(prefix)))]
        return StartsWith(field, prefix, draw(st.booleans()))
    return Bare()


def _conditions(
    depth: int, pools: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[Condition]:
    leaf = _leaf(pools)
    if depth == 0:
        return leaf
    inner = _conditions(depth - 1, pools)
    return st.one_of(
        leaf,
        st.lists(inner, min_size=2, max_size=3).map(lambda items: All(tuple(items))),
        st.lists(inner, min_size=2, max_size=3).map(lambda items: Either(tuple(items))),
        inner.map(Negated),
    )


def conditions(rows: Sequence[Row] = ()) -> st.SearchStrategy[Condition]:
    """A condition tree of the portable subset, at most 3 levels of and_ / or_ / not_ deep,
    comparing with values ``rows`` hold more often than not."""
    return _conditions(3, _pools(rows))


def wheres(rows: Sequence[Row] = ()) -> st.SearchStrategy[list[Condition]]:
    """The ``where`` items of one call (ANDed): mostly one, sometimes none or two."""
    return st.sampled_from([0, 1, 1, 1, 2]).flatmap(
        lambda size: st.lists(conditions(rows), min_size=size, max_size=size)
    )


# --- orders ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderItem:
    field: str
    descending: bool
    bare: bool = False  # ascending, written as the bare column (no .asc())


@dataclass(frozen=True)
class Ordering:
    """An ``order_by`` argument: its items and how it is written (None, one item, list, tuple)."""

    items: tuple[OrderItem, ...]
    form: str = "list"  # "none" (only without items), "single" (one item), "list", "tuple"


def render_item(item: OrderItem) -> Any:
    if item.descending:
        return column(item.field).desc()
    return getattr(Gadget, item.field) if item.bare else column(item.field).asc()


def render_order(ordering: Ordering) -> Any:
    if ordering.form == "none":
        return None
    rendered = [render_item(item) for item in ordering.items]
    if ordering.form == "single":
        return rendered[0]
    return tuple(rendered) if ordering.form == "tuple" else rendered


@st.composite
def orderings(draw: st.DrawFn) -> Ordering:
    """0-3 distinct fields, each ascending or descending, written in any accepted form."""
    fields = draw(st.lists(st.sampled_from(ORDERABLE), max_size=3, unique=True))
    items = tuple(
        OrderItem(field, descending=draw(st.booleans()), bare=draw(st.booleans()))
        for field in fields
    )
    forms = (
        ["list", "tuple"]
        + (["none"] if not items else [])
        + (["single"] if len(items) == 1 else [])
    )
    return Ordering(items, draw(st.sampled_from(forms)))


def _compare_rows(first: Row, second: Row, keys: Sequence[OrderItem]) -> int:
    for key in keys:
        a, b = first[key.field], second[key.field]
        if a is None and b is None:
            continue
        if a is None or b is None:  # NULLs last ascending, first descending
            nulls_later = 1 if a is None else -1
            return -nulls_later if key.descending else nulls_later
        if rank(a) == rank(b):
            continue
        earlier = -1 if rank(a) < rank(b) else 1
        return -earlier if key.descending else earlier
    return 0


def sort_key_items(ordering: Ordering | Sequence[OrderItem]) -> list[OrderItem]:
    """The order's items, ended by the primary key ascending when it does not name it."""
    items = list(ordering.items if isinstance(ordering, Ordering) else ordering)
    if all(item.field != "id" for item in items):
        items.append(OrderItem("id", descending=False))
    return items


def ordered(rows: Sequence[Row], ordering: Ordering | Sequence[OrderItem]) -> list[Row]:
    """``rows`` in the order's order."""
    keys = sort_key_items(ordering)

    def compare(first: Row, second: Row) -> int:
        return _compare_rows(first, second, keys)

    return sorted(rows, key=functools.cmp_to_key(compare))


def comes_before(first: Row, second: Row, ordering: Ordering | Sequence[OrderItem]) -> bool:
    return _compare_rows(first, second, sort_key_items(ordering)) < 0
