"""Queries as data: the portable subset of SQLAlchemy expressions, and their one meaning.

Users filter with SQLAlchemy's own expressions over their SQLModel columns (``Hero.name == "x"``,
``col(Hero.age) >= 30``, ``and_``, ``or_``, ``not_`` ...). `translate` turns the portable subset
into a small tree (`Condition`), which each backend runs with the same meaning:

- SQL's three-valued logic: a comparison with NULL is unknown, and unknown rows are left out
  (``!=`` does not match NULL; ``not_`` of unknown is unknown). ``== None`` is ``IS NULL``, as
  SQLAlchemy makes it.
- Strings compare by code point; enums by declaration order; datetimes as instants.
- Every order ends with the primary key; NULLs sort last ascending and first descending.

SQL runs the tree as SQLAlchemy expressions (`toolkit.repositories.sql_query`); Redis evaluates
it on documents (`evaluate`). What is outside the subset raises `UnsupportedQueryError` where it
cannot run the same everywhere.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeAlias

import pydantic
from pydantic import TypeAdapter
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import (
    AsBoolean,
    BinaryExpression,
    BindParameter,
    BooleanClauseList,
    ClauseElement,
    ColumnElement,
    False_,
    Grouping,
    Null,
    True_,
    UnaryExpression,
)

from toolkit.errors import UnsupportedQueryError, ValidationError
from toolkit.schema import ModelInfo, ModelT, strip_optional

__all__ = [
    "And",
    "Compare",
    "Condition",
    "InSet",
    "IsNull",
    "Not",
    "Or",
    "Order",
    "Page",
    "StartsWith",
    "after",
    "check_window",
    "decode_cursor",
    "encode_cursor",
    "evaluate",
    "page_of",
    "sort_rows",
    "translate",
    "translate_order",
]

Where: TypeAlias = ColumnElement[bool] | bool
"""A filter: what SQLModel's ``select().where()`` accepts."""

OrderBy: TypeAlias = Any
"""A column (``Hero.name``), ``col(Hero.name).asc()`` / ``.desc()``, or a sequence of them.

Typed ``Any``: to a type checker a SQLModel column attribute is its Python type (``str``).
"""


# --- the tree --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: str  # "eq", "ne", "lt", "le", "gt", "ge"
    value: Any


@dataclass(frozen=True, slots=True)
class InSet:
    field: str
    values: tuple[Any, ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class IsNull:
    field: str
    negated: bool


@dataclass(frozen=True, slots=True)
class StartsWith:
    field: str
    prefix: str
    negated: bool


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition


Condition: TypeAlias = Compare | InSet | IsNull | StartsWith | And | Or | Not


@dataclass(frozen=True, slots=True)
class Order:
    field: str
    descending: bool


@dataclass(frozen=True, slots=True)
class Page(Generic[ModelT]):
    """One page of rows, and the cursor of the next page (None: this is the last)."""

    items: list[ModelT]
    next_cursor: str | None


# --- from SQLAlchemy expressions -------------------------------------------------------------

_COMPARISONS: dict[Any, str] = {
    operator.eq: "eq",
    operator.ne: "ne",
    operator.lt: "lt",
    operator.le: "le",
    operator.gt: "gt",
    operator.ge: "ge",
}
_MIRRORED = {"eq": "eq", "ne": "ne", "lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


class _Fields:
    """The model's columns by identity, and how to type a value for each field."""

    def __init__(self, info: ModelInfo[Any]) -> None:
        self.info = info
        self.by_key = {
            column.key: name for name, column in zip(info.field_names, info.columns, strict=True)
        }
        self.adapters: dict[str, TypeAdapter[Any]] = {}

    def field_of(self, element: Any) -> str | None:
        table = getattr(element, "table", None)
        if table is None or getattr(element, "key", None) is None:
            return None
        if table is not self.info.table:
            raise UnsupportedQueryError(
                f"{element} is a column of {table}, not of {self.info.table.name}"
            )
        return self.by_key.get(element.key)

    def kind(self, field: str) -> Any:
        return strip_optional(self.info.model.model_fields[field].annotation)

    def value(self, field: str, raw: Any) -> Any:
        """``raw`` as the field's type (datetimes in UTC); `ValidationError` if it is not one."""
        if raw is None:
            return None
        adapter = self.adapters.get(field)
        if adapter is None:
            adapter = self.adapters[field] = TypeAdapter(self.kind(field))
        try:
            value = adapter.validate_python(raw)
        except pydantic.ValidationError as exc:
            raise ValidationError(
                f"{raw!r} is not a valid value for {self.info.name}.{field}",
                errors=exc.errors(include_url=False),
            ) from exc
        if type(value) is int and not -(2**63) <= value < 2**63:
            raise ValidationError(
                f"{value} is outside the 64-bit integers {self.info.name}.{field} can compare with"
            )
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValidationError(
                    f"{self.info.name}.{field}: compare with a timezone-aware datetime"
                )
            value = value.astimezone(UTC)
        return value


def translate(info: ModelInfo[Any], where: Iterable[Any]) -> list[Condition | None]:
    """Each ``where`` item as a `Condition`, or None where it is outside the portable subset."""
    fields = _Fields(info)
    conditions: list[Condition | None] = []
    for item in where:
        if not isinstance(_clause(item), ClauseElement):
            # A type checker sees `Hero.name == "x"` as a bool, so it cannot catch
            # `hero.name == "x"` (an instance's value): refuse it here, or SQL reads `WHERE true`.
            raise ValidationError(
                f"a filter must be an expression over {info.name}'s columns, such as "
                f"`{info.name}.{info.pk_name} == 1`, not the {type(item).__name__} {item!r}"
            )
        conditions.append(_translate(fields, item))
    return conditions


def translate_strict(info: ModelInfo[Any], where: Iterable[Any]) -> Condition | None:
    """All ``where`` items ANDed as one `Condition` (None: no filter); `UnsupportedQueryError`
    for an item outside the portable subset."""
    conditions: list[Condition] = []
    for item, condition in zip(where, translate(info, where), strict=True):
        if condition is None:
            raise UnsupportedQueryError(f"{_describe(item)} is not in the portable query subset")
        conditions.append(condition)
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else And(tuple(conditions))


def _describe(item: Any) -> str:
    try:
        return f"`{item}`"
    except Exception:  # some expressions cannot render without a dialect
        return type(item).__name__


def _clause(item: Any) -> Any:
    """A mapped attribute (``Hero.name``) as its column; anything else as it is."""
    make = getattr(item, "__clause_element__", None)
    return make() if callable(make) else item


def _translate(fields: _Fields, item: Any) -> Condition | None:
    item = _clause(item)
    if isinstance(item, Grouping):
        return _translate(fields, item.element)
    if isinstance(item, BooleanClauseList):
        parts = [_translate(fields, clause) for clause in item.clauses]
        if any(part is None for part in parts):
            return None
        kept = tuple(part for part in parts if part is not None)
        if item.operator is operators.and_:
            return And(kept)
        if item.operator is operators.or_:
            return Or(kept)
        return None
    if isinstance(item, UnaryExpression) and item.operator is operators.inv:
        inner = _translate(fields, item.element)
        return None if inner is None else Not(inner)
    if isinstance(item, BinaryExpression):
        return _binary(fields, item)
    if isinstance(item, AsBoolean):  # a boolean column inside and_/or_, or under not_
        flag = fields.field_of(item.element)
        if flag is None or fields.kind(flag) is not bool:
            return None
        return Compare(flag, "eq", item.operator is operators.is_true)
    field = fields.field_of(item)
    if field is not None and fields.kind(field) is bool:  # a bare boolean column
        return Compare(field, "eq", True)
    return None


def _binary(fields: _Fields, item: BinaryExpression[Any]) -> Condition | None:
    left, right, op = item.left, item.right, item.operator
    field = fields.field_of(left)
    if field is None:
        field = fields.field_of(right)
        if field is None or op not in _COMPARISONS:
            return None
        left, right = right, left
        name = _MIRRORED[_COMPARISONS[op]]
    else:
        name = _COMPARISONS.get(op, "")
    if op in (operators.is_, operators.is_not) and isinstance(right, Null):
        return IsNull(field, negated=op is operators.is_not)
    raw: Any
    if isinstance(right, True_ | False_) and name:  # `Hero.active == True`
        raw = isinstance(right, True_)
    elif isinstance(right, BindParameter):
        raw = right.effective_value
    else:
        return None
    if name:
        if raw is None:  # `== None` is IS NULL in SQLAlchemy; other comparisons with NULL
            return None
        return Compare(field, name, fields.value(field, raw))
    if op in (operators.in_op, operators.not_in_op):
        values = tuple(fields.value(field, value) for value in raw or ())
        return InSet(field, values, negated=op is operators.not_in_op)
    if op in (operators.startswith_op, operators.not_startswith_op):
        if fields.kind(field) is not str or not isinstance(raw, str):
            return None
        if item.modifiers.get("escape") is not None:
            return None  # a LIKE escape character means LIKE patterns: not portable
        return StartsWith(field, raw, negated=op is operators.not_startswith_op)
    return None


def translate_order(info: ModelInfo[Any], order_by: OrderBy) -> list[Order]:
    """``order_by`` as `Order` items, ending with the primary key ascending."""
    fields = _Fields(info)
    items: Sequence[Any]
    if order_by is None:
        items = ()
    elif isinstance(order_by, list | tuple):
        items = order_by
    else:
        items = (order_by,)
    orders: list[Order] = []
    for item in items:
        descending = False
        element = _clause(item)
        if isinstance(element, UnaryExpression) and element.modifier in (
            operators.desc_op,
            operators.asc_op,
        ):
            descending = element.modifier is operators.desc_op
            element = _clause(element.element)
        field = fields.field_of(element) if isinstance(element, ClauseElement) else None
        if field is None:
            raise UnsupportedQueryError(f"cannot order {info.name} by {_describe(item)}")
        if all(order.field != field for order in orders):
            orders.append(Order(field, descending))
    if all(order.field != info.pk_name for order in orders):
        orders.append(Order(info.pk_name, descending=False))
    return orders


# --- one meaning, for backends that evaluate --------------------------------------------------

_Truth = bool | None  # None: unknown

_OPERATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def comparable(value: Any) -> Any:
    """How a value orders: enums by declaration order, everything else as itself."""
    if isinstance(value, enum.Enum):
        return list(type(value)).index(value)
    return value


def evaluate(condition: Condition, row: Mapping[str, Any]) -> _Truth:
    """``condition`` on a row of field values, in SQL's three-valued logic."""
    if isinstance(condition, Compare):
        value = row.get(condition.field)
        if value is None:
            return None
        return _OPERATIONS[condition.op](comparable(value), comparable(condition.value))
    if isinstance(condition, IsNull):
        return (row.get(condition.field) is None) != condition.negated
    if isinstance(condition, InSet):
        if not condition.values:  # as SQLAlchemy renders an empty IN: false, whatever the row
            return condition.negated
        value = row.get(condition.field)
        if value is None:
            return None
        found: _Truth = False
        for candidate in condition.values:
            if candidate is None:
                found = None if found is False else found
            elif candidate == value:
                found = True
                break
        return _negate(found) if condition.negated else found
    if isinstance(condition, StartsWith):
        value = row.get(condition.field)
        if value is None:
            return None
        return bool(value.startswith(condition.prefix)) != condition.negated
    if isinstance(condition, Not):
        return _negate(evaluate(condition.item, row))
    if isinstance(condition, And):
        result: _Truth = True
        for item in condition.items:
            truth = evaluate(item, row)
            if truth is False:
                return False
            if truth is None:
                result = None
        return result
    result = False
    for item in condition.items:
        truth = evaluate(item, row)
        if truth is True:
            return True
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
        return _nulls_last(row.get(field))

    return key


def _nulls_last(value: Any) -> tuple[bool, Any]:
    return (value is None, None if value is None else comparable(value))


def after(orders: Sequence[Order], position: Sequence[Any]) -> Condition:
    """Rows that come after ``position`` (the values of ``orders`` of one row) in that order."""
    alternatives: list[Condition] = []
    for index, order in enumerate(orders):
        equal = [_same(orders[i].field, position[i]) for i in range(index)]
        later = _later(order, position[index])
        if later is None:
            continue
        alternatives.append(And((*equal, later)) if equal else later)
    return Or(tuple(alternatives)) if alternatives else Or(())


def _same(field: str, value: Any) -> Condition:
    return IsNull(field, negated=False) if value is None else Compare(field, "eq", value)


def _later(order: Order, value: Any) -> Condition | None:
    if order.descending:  # NULLs first, then values falling
        if value is None:
            return IsNull(order.field, negated=True)
        return Compare(order.field, "lt", value)
    if value is None:  # NULLs last: nothing comes after a NULL but other NULLs
        return None
    return Or((Compare(order.field, "gt", value), IsNull(order.field, negated=False)))


def check_window(limit: int | None, offset: int, *, page: bool = False) -> None:
    """`ValidationError` for a negative limit or offset (or a page size under 1)."""
    if limit is not None and (limit < (1 if page else 0)):
        raise ValidationError(f"limit must be {'1' if page else '0'} or more, not {limit}")
    if offset < 0:
        raise ValidationError(f"offset must be 0 or more, not {offset}")


# --- cursors -----------------------------------------------------------------------------------


def encode_cursor(
    info: ModelInfo[Any], orders: Sequence[Order], position: Sequence[Any], secret: bytes
) -> str:
    """An opaque, signed cursor holding ``position`` for this model and order."""
    fields = _Fields(info)
    values = [
        TypeAdapter(fields.kind(order.field)).dump_python(value, mode="json")
        if value is not None
        else None
        for order, value in zip(orders, position, strict=True)
    ]
    payload = json.dumps({"o": _fingerprint(info, orders), "v": values}, separators=(",", ":"))
    body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return f"{body}.{_signature(body, secret)}"


def decode_cursor(
    info: ModelInfo[Any], orders: Sequence[Order], cursor: str, secret: bytes
) -> list[Any]:
    """The position a cursor holds; `ValidationError` if it was altered or is for another query."""
    body, _, signature = cursor.partition(".")
    if not hmac.compare_digest(signature, _signature(body, secret)):
        raise ValidationError("the page cursor is not valid (altered, or from elsewhere)")
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if payload["o"] != _fingerprint(info, orders) or len(payload["v"]) != len(orders):
            raise ValidationError("the page cursor belongs to another model or order")
        fields = _Fields(info)
        return [
            None if value is None else fields.value(order.field, value)
            for order, value in zip(orders, payload["v"], strict=True)
        ]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ValidationError("the page cursor is not valid") from exc


def page_of(
    info: ModelInfo[Any], orders: Sequence[Order], rows: list[ModelT], limit: int, secret: bytes
) -> Page[ModelT]:
    """The page of up to ``limit`` of ``rows`` (fetched ``limit + 1`` to see if more follow)."""
    items = rows[:limit]
    if len(rows) <= limit:
        return Page(items=items, next_cursor=None)
    last = items[-1].__dict__
    position = [last[order.field] for order in orders]
    return Page(items=items, next_cursor=encode_cursor(info, orders, position, secret))


def _fingerprint(info: ModelInfo[Any], orders: Sequence[Order]) -> str:
    spec = ",".join(f"{order.field}{'-' if order.descending else '+'}" for order in orders)
    return hashlib.sha256(f"{info.name}:{spec}".encode()).hexdigest()[:16]


def _signature(body: str, secret: bytes) -> str:
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()[:32]
