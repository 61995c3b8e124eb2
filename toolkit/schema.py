"""What the toolkit knows about a SQLModel table class, and the two conversions every backend needs.

- `validate_for_write` checks an instance against the model's own pydantic schema (table models
  skip validation in ``__init__``) and returns a validated copy with datetimes in UTC.
- `build_instance` turns stored values back into a complete, detached model instance without
  validating them again: they were validated on the way in.

Both run on every call, so they avoid the costly paths (``model_validate`` on a table model
copies through SQLAlchemy instrumentation; building through ``__init__`` does the same).
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import UnionType
from typing import Any, Generic, TypeAlias, TypeVar, cast
from uuid import UUID

import pydantic
from pydantic import TypeAdapter
from pydantic_core import ErrorDetails
from sqlalchemy import Column, Table
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapper
from sqlalchemy.orm.attributes import instance_state
from sqlmodel import SQLModel

from toolkit.errors import ConfigurationError, ValidationError

__all__ = [
    "ModelInfo",
    "ModelT",
    "PrimaryKey",
    "build_instance",
    "keys_of",
    "model_info",
    "strip_optional",
    "to_utc",
    "validate_all",
    "validate_for_write",
]

ModelT = TypeVar("ModelT", bound=SQLModel)
"""A SQLModel ``table=True`` class: what a repository stores and returns.

The type checker sees only the bound, SQLModel; a class without ``table=True`` is refused at run
time with `ConfigurationError`.
"""

PrimaryKey: TypeAlias = int | str | UUID
"""The value of a model's primary key, as ``get``, ``get_one`` and ``delete`` accept it."""


@dataclass(frozen=True, slots=True)
class ModelInfo(Generic[ModelT]):
    """A table model's shape, computed once per class."""

    model: type[ModelT]
    name: str
    table: Table
    mapper: Mapper[ModelT]
    pk_name: str
    pk_adapter: TypeAdapter[Any]
    field_names: tuple[str, ...]
    columns: tuple[Column[Any], ...]  # the column of each of field_names, in the same order
    datetime_fields: tuple[str, ...]
    by_alias: bool  # fields with aliases: validate by field name all the same

    def coerce_pk(self, id: object) -> Any:
        """The primary key value as the model types it; `ValidationError` when it cannot be."""
        try:
            return self.pk_adapter.validate_python(id)
        except pydantic.ValidationError as exc:
            raise ValidationError(
                f"{id!r} is not a valid {self.name}.{self.pk_name}",
                errors=_error_details(exc),
            ) from exc


@functools.cache
def model_info(model: type[ModelT]) -> ModelInfo[ModelT]:
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
    fields = model.model_fields
    # A field's column may be named otherwise (``sa_column=Column("other_name", ...)``).
    mapped: dict[str, Column[Any]] = {
        name: cast("Column[Any]", mapper.column_attrs[name].columns[0])  # a table column here
        for name in fields
        if name in mapper.column_attrs
    }
    pk_name = next(name for name, column in mapped.items() if column is pk_columns[0])
    pk_type = strip_optional(fields[pk_name].annotation)
    return ModelInfo(
        model=model,
        name=model.__name__,
        table=table,
        mapper=mapper,
        pk_name=pk_name,
        pk_adapter=TypeAdapter(pk_type),
        field_names=tuple(mapped),
        columns=tuple(mapped.values()),
        datetime_fields=tuple(
            name for name in mapped if strip_optional(fields[name].annotation) is datetime
        ),
        by_alias=any(fields[name].alias not in (None, name) for name in mapped),
    )


def keys_of(ids: Iterable[PrimaryKey]) -> Iterable[PrimaryKey]:
    """``ids``, refusing one string or bytes value (an iterable of characters, not of keys)."""
    if isinstance(ids, str | bytes):
        raise ValidationError(f"expected a collection of primary keys, not the string {ids!r}")
    return ids


def strip_optional(annotation: Any) -> Any:
    """``X | None`` -> ``X``; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, UnionType):
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def to_utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive value (SQLite keeps no offset) is read as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def validate_for_write(info: ModelInfo[ModelT], instance: object) -> ModelT:
    """A validated copy of ``instance`` with aware datetimes in UTC; `ValidationError` otherwise."""
    if not isinstance(instance, info.model):
        raise ValidationError(f"expected a {info.name} instance, got {type(instance).__name__}")
    source = instance.__dict__
    data = {name: source[name] for name in info.field_names if name in source}
    validated = info.mapper.class_manager.new_instance()
    sa_state = validated.__dict__.copy()
    try:
        # Validates into `validated` with the model's own validators; replaces its __dict__.
        info.model.__pydantic_validator__.validate_python(
            data, self_instance=validated, by_name=True if info.by_alias else None
        )
    except pydantic.ValidationError as exc:
        raise ValidationError(
            f"invalid {info.name}: {_summary(exc)}", errors=_error_details(exc)
        ) from exc
    values = validated.__dict__
    values.update(sa_state)
    for name in info.datetime_fields:
        value = values.get(name)
        if value is None:
            continue
        if value.tzinfo is None:
            raise _field_error(
                info, name, value, "timezone_aware", "is a naive datetime; give an aware one"
            )
        try:
            values[name] = value.astimezone(UTC)
        except OverflowError:
            raise _field_error(
                info, name, value, "datetime_range", "is outside years 1-9999 once in UTC"
            ) from None
    return validated


def validate_all(info: ModelInfo[ModelT], instances: Iterable[object]) -> list[ModelT]:
    """`validate_for_write` on each instance; the error names the position of a bad one."""
    validated: list[ModelT] = []
    for position, instance in enumerate(instances):
        try:
            validated.append(validate_for_write(info, instance))
        except ValidationError as exc:
            raise ValidationError(f"item {position}: {exc}", errors=exc.errors) from exc
    return validated


def build_instance(info: ModelInfo[ModelT], values: dict[str, Any]) -> ModelT:
    """A complete, detached instance holding ``values`` (stored data, trusted as valid)."""
    instance = info.mapper.class_manager.new_instance()
    instance.__dict__.update(values)
    object.__setattr__(instance, "__pydantic_fields_set__", set(values))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    if info.model.__pydantic_post_init__:
        instance.model_post_init(None)
    # An identity key makes the instance "detached" rather than "transient" to SQLAlchemy, so
    # that a Session can merge it and emit an UPDATE, as with any row it loaded itself.
    instance_state(instance).key = info.mapper.identity_key_from_primary_key(
        (values[info.pk_name],)
    )
    return instance


def _field_error(
    info: ModelInfo[Any], name: str, value: object, kind: str, message: str
) -> ValidationError:
    return ValidationError(
        f"invalid {info.name}: {name} {message}",
        errors=[{"type": kind, "loc": (name,), "msg": f"Input {message}", "input": value}],
    )


def _summary(exc: pydantic.ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}"
        for error in exc.errors(include_url=False)
    )


def _error_details(exc: pydantic.ValidationError) -> list[ErrorDetails]:
    return exc.errors(include_url=False)
