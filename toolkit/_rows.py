"""The two conversions every backend needs between model instances and stored values.

- `validate_for_write` checks an instance against the model's own pydantic schema (table models
  skip validation in ``__init__``) and against what every backend holds (`toolkit._values`),
  and returns a validated copy with datetimes in UTC.
- `build_instance` turns stored values back into a complete, detached model instance without
  validating them again: they were validated on the way in.

Both run on every call, so they avoid the costly paths (``model_validate`` on a table model
copies through SQLAlchemy instrumentation; building through ``__init__`` does the same).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

import pydantic
from sqlalchemy.orm import InstanceState
from sqlalchemy.orm.instrumentation import ClassManager

from toolkit._model import ModelFacts, ModelT, error_details, field_error, utc_instant
from toolkit._relations import refuse_related
from toolkit._versioned import checked_version
from toolkit.errors import ValidationError

__all__ = [
    "build_instance",
    "build_many",
    "build_taking",
    "gc_paused",
    "merge_patch",
    "patch_changes",
    "to_utc",
    "validate_all",
    "validate_for_write",
]

_GC_PAUSE_FROM = 100  # rows; below this the pause is not worth its bookkeeping
ItemT = TypeVar("ItemT")
_STATE = ClassManager.STATE_ATTR  # where SQLAlchemy keeps an instance's state


def to_utc(value: datetime) -> datetime:
    """The same instant in UTC; a naive value (SQLite keeps no offset) is read as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def validate_for_write(facts: ModelFacts[ModelT], instance: object) -> ModelT:
    """A validated copy of ``instance`` with aware datetimes in UTC; `ValidationError` otherwise."""
    if not isinstance(instance, facts.model):
        raise ValidationError(f"expected a {facts.name} instance, got {type(instance).__name__}")
    source = instance.__dict__
    if facts.relationships:
        refuse_related(facts.name, facts.relationships, source, instance)
    data = {name: source[name] for name in facts.field_names if name in source}
    validated = facts.mapper.class_manager.new_instance()
    sa_state = validated.__dict__.copy()
    try:
        # Validates into `validated` with the model's own validators; replaces its __dict__.
        facts.model.__pydantic_validator__.validate_python(
            data, self_instance=validated, by_name=True if facts.by_alias else None
        )
    except pydantic.ValidationError as exc:
        raise ValidationError(
            f"invalid {facts.name}: {_summary(exc)}", errors=error_details(exc)
        ) from exc
    values = validated.__dict__
    values.update(sa_state)
    for name in facts.datetime_fields:
        value = values.get(name)
        if value is not None:
            values[name] = utc_instant(facts, name, value)
    for name, check in facts.checks:  # what one backend cannot hold, none is given
        value = values.get(name)
        if value is not None:
            problem = check(value)
            if problem is not None:
                raise field_error(facts, name, value, "value_not_held", problem)
    return validated


def validate_all(facts: ModelFacts[ModelT], instances: Iterable[object]) -> list[ModelT]:
    """`validate_for_write` on each instance; the error names the position of a bad one, in its
    message and first in each entry's ``loc``."""
    given = list(instances)
    validated: list[ModelT] = []
    with gc_paused(len(given)):
        for position, instance in enumerate(given):
            try:
                validated.append(validate_for_write(facts, instance))
            except ValidationError as exc:
                errors = []
                for error in exc.errors:  # each located in the batch first, as FastAPI's are
                    located = error.copy()
                    located["loc"] = (position, *error["loc"])
                    errors.append(located)
                raise ValidationError(f"item {position}: {exc}", errors=errors) from exc
    return validated


def build_instance(facts: ModelFacts[ModelT], values: dict[str, Any]) -> ModelT:
    """A complete, detached instance holding ``values`` (stored data, trusted as valid).

    Made as SQLAlchemy makes the instances it loads (the class's ``__new__``, no ``__init__``),
    with the instance state attached directly: this runs once per row read."""
    model = facts.model
    instance: ModelT = model.__new__(model)  # SQLModel's sets pydantic's private attributes
    complete = facts.complete_fields_set
    fields_set = complete if complete is not None and len(values) == len(complete) else set(values)
    object.__setattr__(instance, "__pydantic_fields_set__", fields_set)
    held = instance.__dict__
    held.update(values)
    state = held[_STATE] = InstanceState(instance, facts.mapper.class_manager)
    # An identity key makes the instance "detached" rather than "transient" to SQLAlchemy, so
    # that a Session can merge it and emit an UPDATE, as with any row it loaded itself.
    state.key = facts.mapper.identity_key_from_primary_key((values[facts.pk_name],))
    if facts.unloaded:  # its own dict: SQLAlchemy edits an instance's loaders in place
        state.callables = dict(facts.unloaded)
    if model.__pydantic_post_init__:
        instance.model_post_init(None)
    return instance


def build_many(make: Callable[[ItemT], ModelT], items: Sequence[ItemT]) -> list[ModelT]:
    """``make`` of each item, with the cyclic garbage collector paused meanwhile."""
    with gc_paused(len(items)):
        return [make(item) for item in items]


def build_taking(make: Callable[[ItemT], ModelT], items: list[ItemT]) -> list[ModelT]:
    """`build_many`, emptying ``items`` as it goes: each item is let go once its instance is
    made, so that the stored rows and the instances are never all held at once."""
    with gc_paused(len(items)):
        built = [make(items.pop()) for _ in range(len(items))]
    built.reverse()
    return built


@contextmanager
def gc_paused(items: int) -> Iterator[None]:
    """The cyclic garbage collector paused while ``items`` instances are made (from a few).

    Making many instances allocates many containers; letting the collector scan them again and
    again while the list grows costs more than making them. No await may run inside: other
    tasks would run with the collector paused.
    """
    if items < _GC_PAUSE_FROM or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _summary(exc: pydantic.ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}"
        for error in exc.errors(include_url=False)
    )


def patch_changes(
    facts: ModelFacts[ModelT], id: object, changes: Mapping[str, object] | pydantic.BaseModel
) -> tuple[dict[str, object], int | None]:
    """The fields ``patch`` writes, and the version the row must be at (None: any).

    `ValidationError` for a name that is not a field of the model, or a primary key other than
    ``id`` (a row keeps its key).
    """
    if isinstance(changes, pydantic.BaseModel):
        given: dict[str, object] = changes.model_dump(exclude_unset=True)
    elif isinstance(changes, Mapping):
        given = dict(changes)
    else:
        raise ValidationError(
            f"patch takes a mapping of {facts.name} fields or a pydantic model, "
            f"not {type(changes).__name__}"
        )
    unknown = [name for name in given if name not in facts.column_of]
    if unknown:
        raise ValidationError(
            f"invalid {facts.name}: no field named {', '.join(map(repr, unknown))}",
            errors=[
                {
                    "type": "unknown_field",
                    "loc": (name,),
                    "msg": "No such field",
                    "input": given[name],
                }
                for name in unknown
            ],
        )
    if facts.pk_name in given and given.pop(facts.pk_name) != facts.coerce_pk(id):
        raise field_error(facts, facts.pk_name, id, "frozen_field", "cannot be patched")
    expected: int | None = None
    if facts.versioned and "version" in given:
        expected = checked_version(facts.name, given.pop("version"))
    return given, expected


def merge_patch(facts: ModelFacts[ModelT], current: ModelT, changes: dict[str, object]) -> ModelT:
    """``current`` (a stored row) with ``changes`` applied, validated as a whole for writing."""
    values = {name: current.__dict__.get(name) for name in facts.field_names}
    values.update(changes)
    return validate_for_write(facts, build_instance(facts, values))
