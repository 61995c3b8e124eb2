"""The query tree: conditions and orders with one meaning on every backend, and the public types.

A filter in the portable subset becomes a `Condition`; every backend runs the tree with the same
meaning (SQL's three-valued logic, strings by code point, enums by declaration order, NULLs last
ascending and first descending). Visitors over the tree match on `Condition` and end in
``assert_never``, so a type checker proves they handle every node.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeAlias

from sqlalchemy.orm import Mapped
from sqlalchemy.sql.elements import ColumnElement

from toolkit._model import ModelT

__all__ = [
    "MIRRORED",
    "OPERATORS",
    "And",
    "Compare",
    "ComparisonOp",
    "Condition",
    "InSet",
    "IsNull",
    "Never",
    "Not",
    "Or",
    "Order",
    "OrderBy",
    "OrderItem",
    "Page",
    "StartsWith",
    "Where",
]

Where: TypeAlias = ColumnElement[bool] | bool
"""A filter: what SQLModel's ``select().where()`` accepts.

``bool`` because a type checker sees ``Hero.name == "x"`` as one; a plain ``bool`` value (such
as ``hero.name == "x"`` on an instance) is refused at run time.
"""

OrderItem: TypeAlias = ColumnElement[Any] | Mapped[Any] | str
"""One order: ``col(Hero.age)``, ``col(Hero.age).desc()``, ``col(Hero.name).asc()``.

As in SQLAlchemy's ``order_by``, ``str`` is accepted because a type checker sees a SQLModel
column attribute declared ``str`` (``Hero.name``) as one; columns of other types need ``col()``.
A plain string or anything else that is not a column of the model raises
`UnsupportedQueryError` at run time.
"""

OrderBy: TypeAlias = OrderItem | Sequence[OrderItem] | None
"""An order for ``list``, ``first``, ``page``: one `OrderItem`, a sequence of them, or None."""

ComparisonOp: TypeAlias = Literal["eq", "ne", "lt", "le", "gt", "ge"]

OPERATORS: dict[ComparisonOp, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
"""The one operator table: the same functions compare Python values and build SQLAlchemy
clauses, and SQLAlchemy records them as a comparison's operator."""

MIRRORED: dict[ComparisonOp, ComparisonOp] = {
    "eq": "eq",
    "ne": "ne",
    "lt": "gt",
    "le": "ge",
    "gt": "lt",
    "ge": "le",
}
"""The operator that means the same with its operands swapped (``1 < x`` is ``x > 1``)."""


@dataclass(frozen=True, slots=True)
class Compare:
    field: str
    op: ComparisonOp
    value: Any  # never None: a comparison with NULL is IS NULL or outside the subset


@dataclass(frozen=True, slots=True)
class InSet:
    field: str
    values: tuple[Any, ...]
    negated: bool
    # For lookups in constant time; values that cannot be hashed (JSON) are compared in turn.
    members: frozenset[Any] | None = dataclasses.field(init=False, repr=False, compare=False)
    has_null: bool = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            members: frozenset[Any] | None = frozenset(self.values)
        except TypeError:
            members = None
        object.__setattr__(self, "members", members)
        object.__setattr__(self, "has_null", any(value is None for value in self.values))


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
class Never:
    """A comparison with a value no row of the field can hold (``age == 2**40`` on a 32-bit
    column): false where the field has a value, unknown where it is NULL. Under `Not`, true
    where the field has a value (``age != 2**40``)."""

    field: str


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition


Condition: TypeAlias = Compare | InSet | IsNull | StartsWith | Never | And | Or | Not


@dataclass(frozen=True, slots=True)
class Order:
    field: str
    descending: bool


@dataclass(frozen=True, slots=True)
class Page(Generic[ModelT]):
    """One page of rows, and the cursor of the next page (None: this is the last)."""

    items: list[ModelT]
    next_cursor: str | None
