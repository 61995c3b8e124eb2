"""Relationships of a model: what ``load=`` names, refusing related instances on writes, and
the error a relationship that was not loaded raises. No I/O: `toolkit.repositories._related`
runs the queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from sqlalchemy.orm import Mapper, RelationshipProperty
from sqlalchemy.orm.attributes import QueryableAttribute, instance_state, set_committed_value
from sqlalchemy.orm.base import LoaderCallableStatus, PassiveFlag
from sqlalchemy.orm.state import InstanceState

from toolkit.errors import RelationshipNotLoadedError, ValidationError

__all__ = ["Load", "LoadStep", "load_steps", "refuse_related", "unloaded_loaders"]

Load: TypeAlias = Iterable[object]
"""Relationship attributes to fill, as ``load=[User.items, Item.owner]`` names them."""

Loader = Callable[[InstanceState[Any], PassiveFlag], Any]


def unloaded_loaders(model_name: str, mapper: Mapper[Any]) -> dict[str, Loader]:
    """Per relationship of ``mapper``, the loader an instance the toolkit built calls when the
    attribute is read without having been loaded: it raises `RelationshipNotLoadedError`."""
    return {key: _Unloaded(model_name, key) for key in mapper.relationships.keys()}  # noqa: SIM118


class _Unloaded:
    """The loader of a relationship that was not loaded (a class, so that instances holding it
    pickle)."""

    __slots__ = ("key", "model_name")

    def __init__(self, model_name: str, key: str) -> None:
        self.model_name = model_name
        self.key = key

    def __call__(self, state: InstanceState[Any], passive: PassiveFlag) -> Any:
        if not passive & PassiveFlag.SQL_OK:  # SQLAlchemy peeking, not the user reading
            return LoaderCallableStatus.PASSIVE_NO_RESULT
        raise RelationshipNotLoadedError(self.model_name, self.key)

    def __reduce__(self) -> tuple[type[_Unloaded], tuple[str, str]]:
        return (_Unloaded, (self.model_name, self.key))


def refuse_related(
    model_name: str, relationships: Sequence[str], values: dict[str, Any], instance: object
) -> None:
    """`ValidationError` naming the attribute when ``instance`` carries related instances to
    write: new ones, changed ones, or a changed collection. Rows loaded with ``load=`` and left
    as they were are not writes, and pass."""
    for key in relationships:
        if key not in values:
            continue
        value = values[key]
        related = value if isinstance(value, list | set | tuple) else [value]
        history = instance_state(instance).attrs[key].history
        changed = history.added or history.deleted
        if changed or any(_is_write(item) for item in related if item is not None):
            raise ValidationError(
                f"invalid {model_name}: {key} holds related rows to write; repositories write "
                f"one model's rows: write them with their own repository (inside "
                "provider.transaction() to make it one unit)",
                errors=[
                    {
                        "type": "related_rows",
                        "loc": (key,),
                        "msg": "related rows are written through their own repository",
                        "input": value,
                    }
                ],
            )


def _is_write(item: object) -> bool:
    try:
        state = instance_state(item)
    except Exception:  # not a mapped instance at all
        return True
    return state.key is None or state.modified


@dataclass(frozen=True, slots=True)
class LoadStep:
    """One relationship to fill: the rows of ``target`` whose ``remote`` field holds the
    ``local`` field's value of a returned instance."""

    key: str
    target: type[Any]
    local: str  # field of the returned model
    remote: str  # field of the target model
    many: bool  # a collection, else one row or None
    back: str | None  # the target's attribute that points back, filled too

    def values(self, instances: Sequence[Any]) -> list[Any]:
        """The distinct values to look up, in first-seen order."""
        seen = dict.fromkeys(
            value for item in instances if (value := item.__dict__.get(self.local)) is not None
        )
        return list(seen)

    def fill(self, instances: Sequence[Any], related: Sequence[Any]) -> None:
        """Set the relationship of each instance from ``related`` (the target rows found)."""
        if self.many:
            groups: dict[Any, list[Any]] = {}
            for row in related:
                groups.setdefault(row.__dict__.get(self.remote), []).append(row)
            for item in instances:
                rows = groups.get(item.__dict__.get(self.local), [])
                set_committed_value(item, self.key, rows)
                if self.back is not None:
                    for row in rows:
                        set_committed_value(row, self.back, item)
            return
        by_value = {row.__dict__.get(self.remote): row for row in related}
        for item in instances:
            set_committed_value(item, self.key, by_value.get(item.__dict__.get(self.local)))


def load_steps(
    model_name: str, mapper: Mapper[Any], field_of: Callable[[type[Any], str], str], load: Load
) -> list[LoadStep]:
    """The steps for ``load``; `ValidationError` for anything that is not a relationship of this
    model that the toolkit can fill (one foreign key column, no association table)."""
    if isinstance(load, str | bytes):
        raise ValidationError(f"load= takes relationship attributes, such as [{model_name}.x]")
    steps: list[LoadStep] = []
    for item in load:
        prop = item.property if isinstance(item, QueryableAttribute) else None
        if not isinstance(prop, RelationshipProperty) or prop.parent is not mapper:
            raise ValidationError(f"load=: {item!r} is not a relationship of {model_name}")
        pairs = list(prop.local_remote_pairs or ())
        if prop.secondary is not None or len(pairs) != 1:
            raise ValidationError(
                f"load=: {model_name}.{prop.key} is not a relationship over one foreign key "
                "column; the toolkit fills one-to-many and many-to-one relationships"
            )
        (local, remote), target = pairs[0], prop.mapper.class_
        assert local.key is not None  # a table column has a key
        assert remote.key is not None
        steps.append(
            LoadStep(
                key=prop.key,
                target=target,
                local=field_of(mapper.class_, local.key),
                remote=field_of(target, remote.key),
                many=bool(prop.uselist),
                back=prop.back_populates if isinstance(prop.back_populates, str) else None,
            )
        )
    return steps
