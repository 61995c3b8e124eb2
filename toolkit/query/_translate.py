"""From SQLAlchemy expressions to the query tree.

Users filter with SQLAlchemy's own expressions over their SQLModel columns (``Hero.name == "x"``,
``col(Hero.age) >= 30``, ``and_``, ``or_``, ``not_`` ...). `translate` turns the portable subset
into `Condition` trees, with every compared value typed as its field types it; what lies outside
the subset comes back as None, for the backend to run as written or to refuse.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import (
    AsBoolean,
    BinaryExpression,
    BindParameter,
    BooleanClauseList,
    ClauseElement,
    False_,
    Grouping,
    Null,
    True_,
    UnaryExpression,
)

from toolkit._model import ModelFacts
from toolkit.errors import UnsupportedQueryError, ValidationError
from toolkit.query._bounds import held_compare, held_in, held_startswith
from toolkit.query._tree import (
    MIRRORED,
    OPERATORS,
    And,
    Compare,
    ComparisonOp,
    Condition,
    IsNull,
    Not,
    Or,
    Order,
    OrderBy,
)

__all__ = ["translate", "translate_order", "translate_strict"]

_COMPARISONS: dict[Any, ComparisonOp] = {function: name for name, function in OPERATORS.items()}


def translate(facts: ModelFacts[Any], where: Iterable[Any]) -> list[Condition | None]:
    """Each ``where`` item as a `Condition`, or None where it is outside the portable subset."""
    conditions: list[Condition | None] = []
    for item in where:
        if not isinstance(_clause(item), ClauseElement):
            # A type checker sees `Hero.name == "x"` as a bool, so it cannot catch
            # `hero.name == "x"` (an instance's value): refuse it here, or SQL reads `WHERE true`.
            raise ValidationError(
                f"a filter must be an expression over {facts.name}'s columns, such as "
                f"`{facts.name}.{facts.pk_name} == 1`, not the {type(item).__name__} {item!r}"
            )
        conditions.append(_translate(facts, item))
    return conditions


def translate_strict(facts: ModelFacts[Any], where: Sequence[Any]) -> Condition | None:
    """All ``where`` items ANDed as one `Condition` (None: no filter); `UnsupportedQueryError`
    for an item outside the portable subset."""
    conditions: list[Condition] = []
    for item, condition in zip(where, translate(facts, where), strict=True):
        if condition is None:
            raise UnsupportedQueryError(f"{_describe(item)} is not in the portable query subset")
        conditions.append(condition)
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else And(tuple(conditions))


def translate_order(facts: ModelFacts[Any], order_by: OrderBy) -> list[Order]:
    """``order_by`` as `Order` items, ending with the primary key ascending."""
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
        field = _field_of(facts, element) if isinstance(element, ClauseElement) else None
        if field is None:
            raise UnsupportedQueryError(f"cannot order {facts.name} by {_describe(item)}")
        if all(order.field != field for order in orders):
            orders.append(Order(field, descending))
    if all(order.field != facts.pk_name for order in orders):
        orders.append(Order(facts.pk_name, descending=False))
    return orders


def _describe(item: Any) -> str:
    try:
        return f"`{item}`"
    except Exception:  # some expressions cannot render without a dialect
        return type(item).__name__


def _clause(item: Any) -> Any:
    """A mapped attribute (``Hero.name``) as its column; anything else as it is."""
    make = getattr(item, "__clause_element__", None)
    return make() if callable(make) else item


def _field_of(facts: ModelFacts[Any], element: Any) -> str | None:
    """The model field whose column ``element`` is; None for anything else."""
    table = getattr(element, "table", None)
    if table is None or getattr(element, "key", None) is None:
        return None
    if table is not facts.table:
        raise UnsupportedQueryError(f"{element} is a column of {table}, not of {facts.table.name}")
    return facts.field_of_key.get(element.key)


def _translate(facts: ModelFacts[Any], item: Any) -> Condition | None:
    item = _clause(item)
    if isinstance(item, Grouping):
        return _translate(facts, item.element)
    if isinstance(item, BooleanClauseList):
        parts = [_translate(facts, clause) for clause in item.clauses]
        kept = tuple(part for part in parts if part is not None)
        if len(kept) != len(parts):
            return None
        if item.operator is operators.and_:
            return And(kept)
        if item.operator is operators.or_:
            return Or(kept)
        return None
    if isinstance(item, UnaryExpression) and item.operator is operators.inv:
        inner = _translate(facts, item.element)
        return None if inner is None else Not(inner)
    if isinstance(item, BinaryExpression):
        return _binary(facts, item)
    if isinstance(item, AsBoolean):  # a boolean column inside and_/or_, or under not_
        flag = _field_of(facts, item.element)
        if flag is None or facts.kinds[flag] is not bool:
            return None
        return Compare(flag, "eq", item.operator is operators.is_true)
    field = _field_of(facts, item)
    if field is not None and facts.kinds[field] is bool:  # a bare boolean column
        return Compare(field, "eq", True)
    return None


def _binary(facts: ModelFacts[Any], item: BinaryExpression[Any]) -> Condition | None:
    left, right, op = item.left, item.right, item.operator
    name: ComparisonOp | None
    field = _field_of(facts, left)
    if field is None:
        field = _field_of(facts, right)
        if field is None or op not in _COMPARISONS:
            return None
        left, right = right, left
        name = MIRRORED[_COMPARISONS[op]]
    else:
        name = _COMPARISONS.get(op)
    if op in (operators.is_, operators.is_not) and isinstance(right, Null):
        return IsNull(field, negated=op is operators.is_not)
    raw: Any
    if isinstance(right, True_ | False_) and name is not None:  # `Hero.active == True`
        raw = isinstance(right, True_)
    elif isinstance(right, BindParameter):
        raw = right.effective_value
    else:
        return None
    if name is not None:
        if raw is None:  # `== None` is IS NULL in SQLAlchemy; other comparisons with NULL
            return None
        return held_compare(facts, field, name, facts.coerce(field, raw))
    if op in (operators.in_op, operators.not_in_op):
        values = tuple(facts.coerce(field, value) for value in raw or ())
        return held_in(facts, field, values, negated=op is operators.not_in_op)
    if op in (operators.startswith_op, operators.not_startswith_op):
        if field not in facts.text_fields or not isinstance(raw, str):
            return None
        if item.modifiers.get("escape") is not None:
            return None  # a LIKE escape character means LIKE patterns: not portable
        prefix = facts.coerce(field, raw)
        return held_startswith(facts, field, prefix, negated=op is operators.not_startswith_op)
    return None
