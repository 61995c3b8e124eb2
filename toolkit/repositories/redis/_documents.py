"""A SQLModel table class as Redis JSON documents: derived once per class, no I/O.

Each row is one JSON document (`toolkit.repositories.redis._keys` says where), its fields
stored by their codecs (`_codecs`), plus, if it has any, the tokens of its unique and
foreign-key values, which the write script (`_script`) keeps its constraints with.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic

from pydantic_core import PydanticUndefined
from sqlalchemy import Table, UniqueConstraint

from toolkit._model import ModelFacts, ModelT, model_facts, table_fields
from toolkit._rows import build_instance, validate_for_write
from toolkit.errors import ConfigurationError, ValidationError
from toolkit.repositories.redis._codecs import (
    EXACT_NUMBERS,
    FieldCodec,
    dumps,
    field_codec,
    is_long,
    unicode_text,
)

__all__ = ["NewFields", "RedisTable", "new_fields", "redis_table", "unique_groups"]

_KEYS_FIELD = "__keys"  # in a document: the tokens of its unique and foreign-key values, if any
_NOTHING_TOLD = '{"u":{},"f":{}}'  # the constraint tokens of a row that has none
_PLAIN, _NUMBER, _TAG = 0, 1, 2  # what a field's stored values are checked for


@dataclass(frozen=True, slots=True)
class RedisTable(Generic[ModelT]):
    """One model's documents: its codecs and the constraints the write script keeps."""

    facts: ModelFacts[ModelT]
    table: str
    codecs: tuple[FieldCodec, ...]
    codec_of: dict[str, FieldCodec]
    pk: FieldCodec
    unique_groups: tuple[tuple[str, ...], ...]
    foreign_key_fields: tuple[str, ...]
    indexed: frozenset[str]  # the fields the search index holds
    generates_keys: bool  # an integer primary key: the store numbers rows given none
    # Each field: its name, its codec's encode, and what its stored value is checked for (a
    # number beyond what the index's doubles hold exactly, a text the index tags as another's).
    stored: tuple[tuple[str, Callable[[Any], Any], int], ...]
    tagged_text: tuple[str, ...]  # text fields the index holds as tags

    def pk_token(self, id: object) -> str:
        """The token of primary key ``id``; `ValidationError` for one of another type or one
        Redis cannot store (text holding a surrogate)."""
        try:
            return unicode_text(self.pk.token(self.facts.coerce_pk(id)))
        except ValueError as exc:
            raise ValidationError(f"{id!r} is not a valid {self.facts.name} key: {exc}") from exc

    def encode(
        self, values: Mapping[str, Any], expected: int | None = None
    ) -> tuple[str, str, str]:
        """The primary key token, the document's JSON and the JSON of its constraint tokens
        (also inside the document), as the write script takes them. The token is "" when the
        store is to generate an integer key (`generates_keys`); any other key needs its value.
        ``expected``: the version the stored row must be at (a `Versioned` model's update),
        told the script beside the tokens.

        Raises ``ValueError`` for a value Redis cannot keep exactly (NaN, infinity, an integer
        beyond 64 bits, a surrogate code point).
        """
        document: dict[str, Any] = {}
        wide: list[str] = []  # fields whose values the index orders or matches inexactly
        for name, encode, watch in self.stored:
            value = values.get(name)
            if value is not None:  # a NULL is no field at all: the index finds it missing
                stored = document[name] = encode(value)
                if watch == _NUMBER:
                    if not -EXACT_NUMBERS < stored < EXACT_NUMBERS:
                        wide.append(name)
                elif watch == _TAG and is_long(stored):
                    wide.append(name)
        unique: dict[str, str] = {}
        for group in self.unique_groups:
            parts = [values.get(name) for name in group]
            if all(part is not None for part in parts):
                tokens = [self.codec_of[n].token(p) for n, p in zip(group, parts, strict=True)]
                # One column: its token; several: a JSON array of them, which no two tuples share.
                unique[",".join(group)] = tokens[0] if len(tokens) == 1 else dumps(tokens)
        foreign: dict[str, str] = {}
        for field in self.foreign_key_fields:
            value = values.get(field)
            if value is not None:
                foreign[field] = self.codec_of[field].token(value)
        keys: dict[str, Any] = {"u": unique, "f": foreign}
        if wide:  # the script notes them: queries on them are checked outside the index
            keys["w"] = wide
        tokens_held = bool(unique or foreign or wide)
        if tokens_held:  # none: no field, which the script reads as none (less to store)
            document[_KEYS_FIELD] = keys
        pk_value = values.get(self.facts.pk_name)
        pk_token = "" if pk_value is None else unicode_text(self.pk.token(pk_value))
        if expected is not None:
            told = dumps({**keys, "v": expected})
        elif tokens_held:
            told = dumps(keys)
        else:  # most rows of most tables: nothing to tell, the same text each time
            told = _NOTHING_TOLD
        return pk_token, dumps(document), told

    def filled(
        self, names: Sequence[str], document: Mapping[str, Any]
    ) -> list[tuple[str, bool] | None]:
        """What a document stored before fields ``names`` were added is given for each: the
        JSON of its default (its factory's, made for this document) as a write of the row
        with those defaults would store it (the whole row validated by the model), and whether
        the index holds it inexactly; None for a value of None. `ConfigurationError` when the
        model refuses the row so filled in."""
        facts = self.facts
        values = self.values(document)
        try:
            for name in names:
                values[name] = facts.model.model_fields[name].get_default(call_default_factory=True)
            written = validate_for_write(facts, build_instance(facts, values)).__dict__
            given = [written.get(name) for name in names]
            stored = [
                None if value is None else self.codec_of[n].encode(value)
                for n, value in zip(names, given, strict=True)
            ]
        except Exception as exc:  # the model's own validators and factories may raise anything
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ConfigurationError(
                f"{facts.name}: the document of {facts.pk_name} {values[facts.pk_name]!r}, "
                f"stored before the model added {', '.join(names)}, cannot be filled in with "
                f"the defaults: {reason}"
            ) from exc
        watches = {name: watch for name, _encode, watch in self.stored}
        filled: list[tuple[str, bool] | None] = []
        for name, value in zip(names, stored, strict=True):
            if value is None:
                filled.append(None)
                continue
            watch = watches[name]
            wide = (watch == _NUMBER and not -EXACT_NUMBERS < value < EXACT_NUMBERS) or (
                watch == _TAG and is_long(value)
            )
            filled.append((dumps(value), wide))
        return filled

    def values(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """The field values a stored document holds."""
        values: dict[str, Any] = {}
        for codec in self.codecs:
            value = document.get(codec.name)
            values[codec.name] = None if value is None else codec.decode(value)
        return values


@functools.cache
def redis_table(model: type[ModelT]) -> RedisTable[ModelT]:
    """The Redis description of ``model`` (made once per class)."""
    facts = model_facts(model)
    codecs = tuple(
        field_codec(name, facts.kinds[name], facts.adapter(name), name in facts.text_fields)
        for name in facts.field_names
    )
    columns = facts.column_of
    for name, column in columns.items():
        for fk in column.foreign_keys:
            if not fk.column.primary_key:
                raise ConfigurationError(
                    f"{facts.name}.{name}: the Redis backend supports foreign keys to a "
                    f"primary key only, not to {fk.target_fullname}"
                )
    codec_of = {codec.name: codec for codec in codecs}
    text = facts.text_fields
    return RedisTable(
        facts=facts,
        table=facts.table.name,
        codecs=codecs,
        codec_of=codec_of,
        pk=codec_of[facts.pk_name],
        unique_groups=unique_groups(facts.table),
        foreign_key_fields=tuple(name for name, column in columns.items() if column.foreign_keys),
        generates_keys=facts.kinds[facts.pk_name] is int,
        stored=tuple(
            (codec.name, codec.encode, _watch(facts.kinds[codec.name], codec.name in text))
            for codec in codecs
        ),
        tagged_text=tuple(sorted(text)),
        indexed=frozenset(
            name
            for name, column in columns.items()
            if column.primary_key or column.index or column.unique or column.foreign_keys
        ),
    )


@dataclass(frozen=True, slots=True)
class NewFields:
    """What the documents stored under an earlier model need to be read as this one."""

    filled: tuple[str, ...]  # fields they are given the default of
    refused: tuple[str, ...]  # the fields they cannot be given, each as a sentence


def new_fields(described: RedisTable[Any], added: Collection[str]) -> NewFields:
    """What the documents stored before fields ``added`` were added to ``described``'s model
    need: a field with a default is filled in with it (the documents then read, and the index
    finds them, as if written with it); a field whose default is None, or that is nullable
    and has none, needs nothing (a missing field is NULL). Refused: a field that is not
    nullable and has no default, and a field with a default that a unique constraint or a
    foreign key holds (one default for every document would break the constraint)."""
    facts = described.facts
    constrained = {name for group in described.unique_groups for name in group}
    constrained.update(described.foreign_key_fields)
    filled: list[str] = []
    refused: list[str] = []
    for name in facts.field_names:
        if name not in added:
            continue
        info = facts.model.model_fields[name]
        default = info.default
        has_default = info.default_factory is not None or (
            default is not None and default is not PydanticUndefined
        )
        if has_default and name in constrained:
            refused.append(
                f"documents stored before lack {name}, which a unique constraint or a foreign "
                "key holds: one default cannot fill them in"
            )
        elif has_default:
            filled.append(name)
        elif info.is_required() and not facts.column_of[name].nullable:
            refused.append(f"documents stored before lack {name}, which has no default")
    return NewFields(tuple(filled), tuple(refused))


def _watch(kind: Any, text: bool) -> int:
    """What a field's stored values are checked for (see `RedisTable.stored`)."""
    if kind is int or kind is datetime:  # stored integers of any width
        return _NUMBER
    return _TAG if text else _PLAIN


def unique_groups(table: Table) -> tuple[tuple[str, ...], ...]:
    """The field names of each unique constraint of ``table``."""
    field = table_fields(table)
    groups: list[tuple[str, ...]] = [(column.key,) for column in table.columns if column.unique]
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            groups.append(tuple(column.key for column in constraint.columns))
    for index in table.indexes:
        if index.unique:
            groups.append(tuple(column.key for column in index.columns))
    named = (tuple(field[key] for key in group) for group in groups if group)
    return tuple(dict.fromkeys(named))
