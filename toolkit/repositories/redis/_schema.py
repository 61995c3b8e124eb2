"""The search index of a model: which fields it holds, and how (FT.CREATE's schema).

Pure: no I/O. The schema is written here rather than through redis-om's ``JsonModel``, because
redis-om cannot declare what exact answers need: ``SORTABLE`` (index order, NULLs last),
``INDEXMISSING`` (``IS NULL`` as ``ismissing()``), ``INDEXEMPTY`` (``""`` as a tag) and TAG
fields with no separator (redis-om splits values at ``|`` and trims them).

Every scalar field is indexed: integers, dates and datetimes (as their stored integers) and
integer enums as NUMERIC; strings, UUIDs, booleans and string enums as case-sensitive TAG.
Floats and Decimals (stored as text) and JSON fields are not.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date
from typing import Any

from toolkit.repositories.redis._documents import NewFields, RedisTable, new_fields

_REQUIRED_MODULES = {"rejson": "RedisJSON", "search": "RediSearch"}

__all__ = [
    "IndexedField",
    "index_schema",
    "info_map",
    "missing_modules",
    "no_index",
    "search_fields",
    "stored_changes",
]


@dataclass(frozen=True, slots=True)
class IndexedField:
    """How one field is indexed: NUMERIC or TAG, and for a TAG of few values, which ones."""

    name: str
    numeric: bool
    members: tuple[Any, ...] | None  # booleans' and enums' values, in declaration order
    ordered: bool  # the index orders the field as the query language does
    wide: bool  # values may lie beyond 2**53, where the index's doubles lose their order


def search_fields(described: RedisTable[Any]) -> dict[str, IndexedField]:
    """The indexed fields of ``described``, by name."""
    fields: dict[str, IndexedField] = {}
    for codec in described.codecs:
        kind = described.facts.kinds[codec.name]
        name = codec.name
        if kind is bool:
            fields[name] = IndexedField(name, False, (False, True), True, False)
        elif isinstance(kind, type) and issubclass(kind, enum.Enum):
            members = tuple(kind)
            stored = [codec.encode(member) for member in members]  # as the index orders them
            numeric = codec.stored_type is int
            fields[name] = IndexedField(name, numeric, members, stored == sorted(stored), False)
        elif codec.stored_type is int:  # int, datetime (microseconds), date (days)
            fields[name] = IndexedField(name, True, None, True, kind is not date)
        elif codec.stored_type is str and _is_text(described, name):
            fields[name] = IndexedField(name, False, None, True, False)
    return fields


def _is_text(described: RedisTable[Any], name: str) -> bool:
    """Whether field ``name`` is stored as JSON text equal and ordered as its values are:
    strings (constrained ones and e-mail addresses too) and UUIDs, not floats, Decimals, JSON."""
    return name in described.facts.text_fields or described.facts.kinds[name] is uuid.UUID


def index_schema(described: RedisTable[Any], documents: str) -> list[str]:
    """The FT.CREATE arguments after the index name, for documents under ``documents``."""
    arguments = ["ON", "JSON", "PREFIX", "1", documents, "SCHEMA"]
    for field in search_fields(described).values():
        path = f'$["{field.name}"]'
        if field.numeric:
            arguments += [path, "AS", field.name, "NUMERIC", "INDEXMISSING", "SORTABLE"]
        else:
            arguments += [path, "AS", field.name, "TAG", "CASESENSITIVE", "INDEXEMPTY"]
            arguments += ["INDEXMISSING", "SORTABLE", "UNF"]
    return arguments


def stored_changes(
    described: RedisTable[Any], recorded: AbstractSet[str], info: dict[str, Any] | None
) -> NewFields:
    """What the documents stored need to be read as ``described``'s model (`new_fields`),
    given the fields the table's ``fields`` set records. Documents stored before the set was
    kept are taken to hold the fields their index (``info``, FT.INFO's reply, or None) holds,
    and every field no index holds."""
    fields = described.codec_of.keys()
    if recorded:
        known = set(recorded)
    elif info is None:
        known = set(fields)
    else:
        indexed = {str(attribute["attribute"]) for attribute in info.get("attributes", [])}
        known = (fields - search_fields(described).keys()) | (fields & indexed)
    return new_fields(described, fields - known)


def info_map(reply: Any) -> dict[str, Any]:
    """FT.INFO's reply (a flat list of names and values, or a map) as a dict."""
    if isinstance(reply, dict):
        return {str(key): value for key, value in reply.items()}
    return {str(reply[i]): reply[i + 1] for i in range(0, len(reply) - 1, 2)}


def missing_modules(reply: Any) -> list[str]:
    """The modules the backend needs that MODULE LIST's ``reply`` lacks."""
    names = {module_name(entry).lower() for entry in reply}
    return [label for name, label in _REQUIRED_MODULES.items() if name not in names]


def no_index(exc: BaseException) -> bool:
    """Whether the server's error ``exc`` says that the index it was given does not exist."""
    message = str(exc).lower()
    return "unknown index" in message or "no such index" in message


def module_name(entry: Any) -> str:
    if isinstance(entry, dict):
        return str(entry.get("name", ""))
    pairs = list(entry)
    for position in range(0, len(pairs) - 1, 2):
        if str(pairs[position]) == "name":
            return str(pairs[position + 1])
    return ""
