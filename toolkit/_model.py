"""What the toolkit knows about a SQLModel table class: computed once per class, cached, no I/O.

Every backend and the query language read a model's shape from `model_facts` and nowhere else:
its fields and their columns, each field's type (``X | None`` unwrapped), one pydantic adapter
per field for values that arrive from outside a model instance (filters, cursors, keys), and the
typing rules those values share with writes (aware datetimes in UTC, 64-bit comparisons).
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import UnionType
from typing import Any, Generic, TypeAlias, TypeVar, cast
from uuid import UUID

import pydantic
from pydantic import TypeAdapter
from pydantic_core import ErrorDetails
from sqlalchemy import Column, Index, PrimaryKeyConstraint, Table, UniqueConstraint
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapper, registry
from sqlmodel import SQLModel

from toolkit._relations import Loader, unloaded_loaders
from toolkit._values import Beyond, Check, int_range, value_check
from toolkit._versioned import Versioned
from toolkit.errors import ConfigurationError, ValidationError

__all__ = [
    "ModelFacts",
    "ModelT",
    "PrimaryKey",
    "error_details",
    "field_error",
    "field_of",
    "keys_of",
    "model_facts",
    "strip_optional",
    "table_fields",
    "utc_instant",
]

ModelT = TypeVar("ModelT", bound=SQLModel)
"""A SQLModel ``table=True`` class: what a repository stores and returns.

The type checker sees only the bound, SQLModel; a class without ``table=True`` is refused at run
time with `ConfigurationError`.
"""

PrimaryKey: TypeAlias = int | str | UUID
"""The value of a model's primary key, as ``get``, ``get_one`` and ``delete`` accept it."""

_TEXT: TypeAdapter[str] = TypeAdapter(str)
_REGISTRIES: dict[registry, None] = {}  # the registries of the models described, in order
_TABLE_FIELDS: dict[Table, dict[str, str]] = {}  # `table_fields` of the tables a model maps


@dataclass(frozen=True, slots=True)
class ModelFacts(Generic[ModelT]):
    """A table model's shape, computed once per class by `model_facts`."""

    model: type[ModelT]
    name: str
    table: Table
    mapper: Mapper[ModelT]
    pk_name: str
    field_names: tuple[str, ...]
    columns: tuple[Column[Any], ...]  # the column of each of field_names, in the same order
    kinds: dict[str, Any]  # field -> its annotation with ``| None`` removed
    column_of: dict[str, Column[Any]]  # field -> its column
    field_of_key: dict[str, str]  # column key -> field (they differ for sa_column=Column("x"))
    datetime_fields: tuple[str, ...]
    text_fields: frozenset[str]  # values are plain ``str``: strings, constrained or e-mail
    by_alias: bool  # fields with aliases: validate by field name all the same
    checks: tuple[tuple[str, Check], ...]  # what every backend holds, for the fields it limits
    check_of: dict[str, Check]  # the same, by field
    int_ranges: dict[str, range]  # integer field -> the integers its column holds
    versioned: bool  # a `Versioned` model: writes compare and move its ``version``
    relationships: tuple[str, ...]  # relationship attributes (never written, filled by load=)
    unloaded: dict[str, Loader]  # what reading each of them raises until it is loaded
    # The fields set of a complete instance, one set shared by every instance built from stored
    # values: pydantic only ever adds a field's name to it, which it holds already. None when
    # the model allows extra attributes (pydantic adds their names too).
    complete_fields_set: set[str] | None
    _adapters: dict[str, TypeAdapter[Any]] = field(default_factory=dict, compare=False)

    @property
    def pk_column(self) -> Column[Any]:
        return self.column_of[self.pk_name]

    def adapter(self, name: str) -> TypeAdapter[Any]:
        """The pydantic adapter of field ``name``'s type (made once per field)."""
        adapter = self._adapters.get(name)
        if adapter is None:
            adapter = self._adapters[name] = TypeAdapter(self.kinds[name])
        return adapter

    def coerce_pk(self, id: object) -> Any:
        """The primary key value as the model types it; `ValidationError` when it cannot be, or
        when no row could have it (a key is held to the rule of the values written)."""
        kind = type(id)
        if kind is self.kinds[self.pk_name] and (kind is int or kind is str):
            value = id  # as typed already
        else:
            try:
                value = self.adapter(self.pk_name).validate_python(id)
            except pydantic.ValidationError as exc:
                raise ValidationError(
                    f"{id!r} is not a valid {self.name}.{self.pk_name}", errors=error_details(exc)
                ) from exc
        problem = self.problem(self.pk_name, value)
        if problem is not None:
            raise field_error(self, self.pk_name, value, "value_not_held", problem)
        return value

    def problem(self, name: str, value: Any) -> str | None:
        """What keeps a backend from holding ``value`` in field ``name``, or None."""
        check = self.check_of.get(name)
        return None if check is None else check(value)

    def coerce(self, name: str, raw: Any) -> Any:
        """A value compared with field ``name`` (a filter's, a cursor's), as the field types it:
        datetimes aware and in UTC (`Beyond` past years 1-9999); `ValidationError` for a value
        of another type. Whether a row could hold it is the query's concern (`query._bounds`)."""
        if raw is None:
            return None
        kind = type(raw)
        if kind is self.kinds[name] and (kind is str or kind is int):  # as typed already
            return raw
        value = self._typed(name, raw)
        if isinstance(value, datetime):
            if value.tzinfo is None:
                return utc_instant(self, name, value)  # refused: naive
            try:
                return value.astimezone(UTC)
            except OverflowError:
                return Beyond(high=value.year > 5000)
        return value

    def _typed(self, name: str, raw: Any) -> Any:
        """``raw`` validated as field ``name``'s type (not its constraints)."""
        # A compared value is typed, not held to the field's constraints: looking up a
        # mistyped e-mail address finds nothing, as in SQL, rather than failing.
        adapter = _TEXT if name in self.text_fields else self.adapter(name)
        try:
            return adapter.validate_python(raw)
        except pydantic.ValidationError as exc:
            raise ValidationError(
                f"{raw!r} is not a valid value for {self.name}.{name}", errors=error_details(exc)
            ) from exc


@functools.cache
def model_facts(model: type[ModelT]) -> ModelFacts[ModelT]:
    """Describe ``model``; `ConfigurationError` unless it is a SQLModel ``table=True`` class."""
    table = getattr(model, "__table__", None)
    if not (isinstance(model, type) and issubclass(model, SQLModel)) or not isinstance(
        table, Table
    ):
        raise ConfigurationError(f"{model!r} is not a SQLModel class declared with table=True")
    pk_columns = list(table.primary_key.columns)
    if len(pk_columns) != 1:
        raise ConfigurationError(
            f"{model.__name__} must have exactly one primary key column, has {len(pk_columns)}"
        )
    mapper: Mapper[ModelT] = sa_inspect(model)
    _REGISTRIES[mapper.registry] = None
    fields = model.model_fields
    # A field's column may be named otherwise (``sa_column=Column("other_name", ...)``).
    mapped: dict[str, Column[Any]] = {
        name: cast("Column[Any]", mapper.column_attrs[name].columns[0])  # a table column here
        for name in fields
        if name in mapper.column_attrs
    }
    kinds = {name: strip_optional(fields[name].annotation) for name in mapped}
    adapters = {name: TypeAdapter(kind) for name, kind in kinds.items()}
    text_fields = frozenset(name for name, adapter in adapters.items() if _is_text(adapter))
    widths = _index_widths(table)
    checks = {
        name: value_check(kinds[name], column, name in text_fields, widths.get(column.key, 0))
        for name, column in mapped.items()
    }
    return ModelFacts(
        model=model,
        name=model.__name__,
        table=table,
        mapper=mapper,
        pk_name=next(name for name, column in mapped.items() if column is pk_columns[0]),
        field_names=tuple(mapped),
        columns=tuple(mapped.values()),
        kinds=kinds,
        column_of=mapped,
        field_of_key={column.key: name for name, column in mapped.items()},
        datetime_fields=tuple(name for name, kind in kinds.items() if kind is datetime),
        text_fields=text_fields,
        by_alias=any(fields[name].alias not in (None, name) for name in mapped),
        checks=tuple((name, check) for name, check in checks.items() if check is not None),
        check_of={name: check for name, check in checks.items() if check is not None},
        int_ranges={
            name: held
            for name, column in mapped.items()
            if kinds[name] is int and (held := int_range(column)) is not None
        },
        versioned=issubclass(model, Versioned),
        relationships=tuple(mapper.relationships.keys()),
        unloaded=unloaded_loaders(model.__name__, mapper),
        complete_fields_set=None if model.model_config.get("extra") == "allow" else set(mapped),
        _adapters=adapters,
    )


def field_of(model: type[SQLModel], key: str) -> str:
    """The field of ``model`` mapped to column key ``key``."""
    return model_facts(model).field_of_key[key]


def _index_widths(table: Table) -> dict[str, int]:
    """Column key -> the most columns of a key, unique constraint or index it is in."""
    widths: dict[str, int] = {}
    for group in (*table.indexes, *table.constraints):
        if not isinstance(group, Index | PrimaryKeyConstraint | UniqueConstraint):
            continue  # foreign keys and checks make no index
        columns = list(group.columns)
        for column in columns:
            widths[column.key] = max(widths.get(column.key, 0), len(columns))
    return widths


def _is_text(adapter: TypeAdapter[Any]) -> bool:
    """Whether the adapter's values are plain ``str``: its JSON schema is a string of no
    format, or of the e-mail format (constrained strings, ``EmailStr``)."""
    try:
        schema = adapter.json_schema()
    except Exception:  # a type pydantic cannot describe: not text
        return False
    if "enum" in schema or "const" in schema:  # enums and literals have values of their own
        return False
    return schema.get("type") == "string" and schema.get("format") in (None, "email")


def _known_mappers() -> Iterator[Mapper[Any]]:
    """The mappers of SQLModel's own registry, and of every registry a model described here
    (`model_facts`) is declared in (``class Base(SQLModel, registry=registry())``)."""
    for mapped in (SQLModel._sa_registry, *_REGISTRIES):
        yield from mapped.mappers


def table_fields(table: Table) -> dict[str, str]:
    """Column key -> field of the SQLModel class mapped to ``table`` (a table no class maps,
    reached through a foreign key: each column's own key)."""
    fields = _TABLE_FIELDS.get(table)
    if fields is None:
        for mapper in _known_mappers():
            if mapper.local_table is table:
                model: type[SQLModel] = mapper.class_
                fields = _TABLE_FIELDS[table] = model_facts(model).field_of_key
                return fields
        # Not kept: a model of a registry not described yet may map it.
        return {column.key: column.key for column in table.columns}
    return fields


def keys_of(ids: Iterable[PrimaryKey]) -> Iterable[PrimaryKey]:
    """``ids``, refusing one string or bytes value (an iterable of characters, not of keys)."""
    if isinstance(ids, str | bytes):
        raise ValidationError(f"expected a collection of primary keys, not the string {ids!r}")
    return ids


def strip_optional(annotation: Any) -> Any:
    """The type of a field's values: ``X | None`` -> ``X``, and ``Annotated[X, ...]`` (a
    constrained type, such as ``PositiveInt``) -> ``X``; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            annotation = args[0]
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def utc_instant(facts: ModelFacts[Any], name: str, value: datetime) -> datetime:
    """``value`` (of field ``name``) in UTC; `ValidationError` for a naive datetime or one that
    leaves years 1-9999 once in UTC. The one rule for writes and for compared values alike."""
    if value.tzinfo is None:
        raise field_error(
            facts, name, value, "timezone_aware", "is a naive datetime; give an aware one"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise field_error(
            facts, name, value, "datetime_range", "is outside years 1-9999 once in UTC"
        ) from None


def field_error(
    facts: ModelFacts[Any], name: str, value: object, kind: str, message: str
) -> ValidationError:
    """A `ValidationError` about one field, in pydantic's error format."""
    return ValidationError(
        f"invalid {facts.name}: {name} {message}",
        errors=[{"type": kind, "loc": (name,), "msg": f"Input {message}", "input": value}],
    )


def error_details(exc: pydantic.ValidationError) -> list[ErrorDetails]:
    return exc.errors(include_url=False)
