"""A SQLModel table class as Redis JSON documents: derived once per class, no I/O.

- Each row is a JSON document at ``<prefix>:<table>:<primary key>``. Values are stored so that
  they come back exactly: datetimes as integer microseconds since the epoch (UTC), dates as days
  since the epoch, floats and Decimals as text (RedisJSON prints some doubles inexactly), UUIDs
  and enums as their string (or integer) values, JSON fields as JSON text (RedisJSON would turn
  integers beyond 64 bits into doubles).
- Bookkeeping lives beside the documents under ``<prefix>:__meta__:<table>:``: the sorted set of
  primary keys (``list()`` order), the key counter for integer keys, one hash per unique
  constraint (value -> owner) and one set per foreign key and parent (the children to cascade).
  Every write runs as one Lua script (`redis_script.lua`), so constraints hold atomically.
- The search index is a redis-om `JsonModel` derived from the same class (``aredis_om`` for the
  async path, ``redis_om`` for the sync path): primary key, ``index=True`` and ``unique=True``
  columns become indexed fields.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import math
import typing
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any, Generic
from urllib.parse import urlsplit

from pydantic import BaseModel, TypeAdapter
from sqlalchemy import Table, UniqueConstraint
from sqlmodel import SQLModel

from toolkit.errors import ConfigurationError
from toolkit.schema import ModelInfo, ModelT, build_instance, model_info, strip_optional

__all__ = [
    "RedisTable",
    "derive_json_model",
    "index_definition",
    "redis_location",
    "redis_table",
    "script_source",
    "validate_redis_url",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_MICROSECOND = timedelta(microseconds=1)
_KEYS_FIELD = "__keys"  # in each document: the tokens of its unique and foreign-key values
_GROUP_SEPARATOR = "\x1f"  # joins the tokens of a multi-column unique constraint


@dataclass(frozen=True, slots=True)
class FieldCodec:
    """How one field is stored: to JSON and back, and as a key token."""

    name: str
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]
    token: Callable[[Any], str]
    stored_type: Any  # the type redis-om sees for the field


def _identity(value: Any) -> Any:
    return value


def _codec(name: str, annotation: Any) -> FieldCodec:
    kind = strip_optional(annotation)
    if kind is bool:
        return FieldCodec(name, _identity, bool, lambda v: "1" if v else "0", bool)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        stored = int if all(isinstance(m.value, int) for m in kind) else str
        return FieldCodec(name, lambda v: v.value, kind, lambda v: str(v.value), stored)
    if kind is int:
        return FieldCodec(name, _identity, int, str, int)
    if kind is float:
        # As text: RedisJSON prints some doubles one unit in the last place off.
        return FieldCodec(name, _float_to_text, float, repr, str)
    if kind is str:
        return FieldCodec(name, _identity, _identity, _identity, str)
    if kind is uuid.UUID:
        return FieldCodec(name, str, uuid.UUID, str, str)
    if kind is datetime:
        return FieldCodec(name, _datetime_to_int, _int_to_datetime, _datetime_token, int)
    if kind is date:
        return FieldCodec(name, _date_to_int, _int_to_date, lambda v: str(_date_to_int(v)), int)
    if kind is Decimal:
        return FieldCodec(name, str, Decimal, lambda v: str(v.normalize()), str)
    # Anything else: pydantic's own JSON form. Containers (JSON fields) are kept as JSON text:
    # RedisJSON would turn integers beyond 64 bits into doubles, and SQL keeps them exactly.
    adapter: TypeAdapter[Any] = TypeAdapter(kind)

    def token(value: Any) -> str:
        return json.dumps(adapter.dump_python(value, mode="json"), sort_keys=True)

    if _is_json_container(kind):
        return FieldCodec(
            name,
            lambda v: _dumps(adapter.dump_python(v, mode="json")),
            lambda v: adapter.validate_python(json.loads(v)),
            token,
            str,
        )
    return FieldCodec(
        name, lambda v: adapter.dump_python(v, mode="json"), adapter.validate_python, token, str
    )


def _is_json_container(kind: Any) -> bool:
    """Whether values of ``kind`` are JSON objects or arrays (dicts, lists, models, Any)."""
    origin = typing.get_origin(kind) or kind
    if origin is Any or origin in (dict, list, tuple, set, frozenset):
        return True
    return isinstance(origin, type) and issubclass(origin, (Mapping, BaseModel))


def _float_to_text(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    return repr(value)


def _datetime_to_int(value: datetime) -> int:
    # Integer microseconds stay exact in the index (doubles hold integers up to 2**53).
    return (value - _EPOCH) // _MICROSECOND


def _int_to_datetime(value: int) -> datetime:
    return _EPOCH + value * _MICROSECOND


def _datetime_token(value: datetime) -> str:
    return str(_datetime_to_int(value))


def _date_to_int(value: date) -> int:
    return value.toordinal() - _EPOCH_DAY


def _int_to_date(value: int) -> date:
    return date.fromordinal(value + _EPOCH_DAY)


@dataclass(frozen=True, slots=True)
class RedisTable(Generic[ModelT]):
    """One model's documents: codecs, constraints and the plan the Lua script follows."""

    info: ModelInfo[ModelT]
    table: str
    codecs: tuple[FieldCodec, ...]
    pk: FieldCodec
    auto_pk: bool
    unique_groups: tuple[tuple[str, ...], ...]
    foreign_keys: tuple[tuple[str, str], ...]  # (field, parent table)
    indexed: frozenset[str]

    def doc_prefix(self, prefix: str) -> str:
        return f"{prefix}:{self.table}:"

    def doc_key(self, prefix: str, pk_token: str) -> str:
        return f"{prefix}:{self.table}:{pk_token}"

    def ids_key(self, prefix: str) -> str:
        return f"{prefix}:__meta__:{self.table}:ids"

    def index_name(self, prefix: str) -> str:
        return f"{prefix}:{self.table}:index"

    def index_hash_key(self, prefix: str) -> str:
        return f"{prefix}:__meta__:{self.table}:index_hash"

    def pk_token(self, id: object) -> str:
        return self.pk.token(self.info.coerce_pk(id))

    def encode(self, values: Mapping[str, Any]) -> tuple[str, str, str]:
        """The primary key token ("" when the store generates it), the document's JSON and the
        JSON of its constraint tokens (also inside the document), as the Lua script takes them.

        Raises ``ValueError`` for a value JSON cannot hold exactly (NaN, infinity).
        """
        document: dict[str, Any] = {}
        for codec in self.codecs:
            value = values.get(codec.name)
            document[codec.name] = None if value is None else codec.encode(value)
        unique: dict[str, str] = {}
        for group in self.unique_groups:
            parts = [values.get(name) for name in group]
            if all(part is not None for part in parts):
                tokens = [self._codec(n).token(p) for n, p in zip(group, parts, strict=True)]
                unique[",".join(group)] = _GROUP_SEPARATOR.join(tokens)
        foreign: dict[str, str] = {}
        for field, _parent in self.foreign_keys:
            value = values.get(field)
            if value is not None:
                foreign[field] = self._codec(field).token(value)
        keys = {"u": unique, "f": foreign}
        document[_KEYS_FIELD] = keys
        pk_value = values.get(self.info.pk_name)
        pk_token = "" if pk_value is None else self.pk.token(pk_value)
        return pk_token, _dumps(document), _dumps(keys)

    def decode(self, document: Mapping[str, Any]) -> ModelT:
        """The model instance a stored document holds."""
        return build_instance(self.info, self.values(document))

    def values(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """The field values a stored document holds."""
        values: dict[str, Any] = {}
        for codec in self.codecs:
            value = document.get(codec.name)
            values[codec.name] = None if value is None else codec.decode(value)
        return values

    def plan(self, prefix: str) -> str:
        """The JSON the Lua script reads: this table and every table a delete can reach."""
        return _plan(self.info.table, prefix)

    def _codec(self, name: str) -> FieldCodec:
        return next(codec for codec in self.codecs if codec.name == name)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


@functools.cache
def redis_table(model: type[ModelT]) -> RedisTable[ModelT]:
    """The Redis description of ``model`` (made once per class)."""
    info = model_info(model)
    table = info.table
    codecs = tuple(_codec(name, model.model_fields[name].annotation) for name in info.field_names)
    columns = dict(zip(info.field_names, info.columns, strict=True))
    pk_codec = next(codec for codec in codecs if codec.name == info.pk_name)
    auto_pk = pk_codec.stored_type is int and columns[info.pk_name].autoincrement in (True, "auto")
    for name, column in columns.items():
        for fk in column.foreign_keys:
            if not fk.column.primary_key:
                raise ConfigurationError(
                    f"{info.name}.{name}: the Redis backend supports foreign keys to a "
                    f"primary key only, not to {fk.target_fullname}"
                )
    return RedisTable(
        info=info,
        table=table.name,
        codecs=codecs,
        pk=pk_codec,
        auto_pk=auto_pk,
        unique_groups=_unique_groups(table),
        foreign_keys=tuple(
            (name, next(iter(column.foreign_keys)).column.table.name)
            for name, column in columns.items()
            if column.foreign_keys
        ),
        indexed=frozenset(
            name
            for name, column in columns.items()
            if column.primary_key or column.index or column.unique or column.foreign_keys
        ),
    )


def _field_names(table: Table) -> dict[str, str]:
    """Column key -> the model field it holds (they differ for ``sa_column=Column("x")``)."""
    for mapper in SQLModel._sa_registry.mappers:
        if mapper.local_table is table:
            return {column.key: prop.key for prop in mapper.column_attrs for column in prop.columns}
    return {column.key: column.key for column in table.columns}


def _unique_groups(table: Table) -> tuple[tuple[str, ...], ...]:
    """The field names of each unique constraint of ``table``."""
    field = _field_names(table)
    groups: list[tuple[str, ...]] = [(column.key,) for column in table.columns if column.unique]
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            groups.append(tuple(column.key for column in constraint.columns))
    for index in table.indexes:
        if index.unique:
            groups.append(tuple(column.key for column in index.columns))
    named = (tuple(field[key] for key in group) for group in groups if group)
    return tuple(dict.fromkeys(named))


@functools.cache
def _plan(table: Table, prefix: str) -> str:
    tables: dict[str, Any] = {}
    pending = [table]
    while pending:
        current = pending.pop()
        if current.name in tables:
            continue
        entry = _table_plan(current, prefix)
        tables[current.name] = entry
        for child in current.metadata.sorted_tables:
            child_field = _field_names(child)
            for column in child.columns:
                for fk in column.foreign_keys:
                    if fk.column.table is current:
                        entry["refs"].append(
                            {
                                "table": child.name,
                                "field": child_field[column.key],
                                "rule": (fk.ondelete or "NO ACTION").upper(),
                                "nullable": bool(column.nullable),
                            }
                        )
                        pending.append(child)
    return json.dumps({"root": table.name, "tables": tables}, separators=(",", ":"))


def _table_plan(table: Table, prefix: str) -> dict[str, Any]:
    field = _field_names(table)
    pk = next(iter(table.primary_key.columns))
    return {
        "key": f"{prefix}:{table.name}:",
        "meta": f"{prefix}:__meta__:{table.name}:",
        "pk": field[pk.key],
        "numeric": pk.type.python_type is int,
        "unique": [",".join(group) for group in _unique_groups(table)],
        "fks": [
            {"field": field[column.key], "parent": f"{prefix}:{fk.column.table.name}:"}
            for column in table.columns
            for fk in column.foreign_keys
        ],
        "refs": [],
    }


@functools.cache
def derive_json_model(model: type[SQLModel], prefix: str, json_model: Any, om_field: Any) -> Any:
    """The redis-om JsonModel that mirrors ``model``, built on ``json_model`` (redis-om's
    ``JsonModel`` of the async or the sync package) with its ``Field``: the search index schema.

    Typed ``Any``: redis-om's models are untyped to mypy, and this one stays inside the toolkit.
    """
    described = redis_table(model)
    annotations: dict[str, Any] = {}
    namespace: dict[str, Any] = {"__module__": __name__}
    for codec in described.codecs:
        indexed = codec.name in described.indexed
        annotations[codec.name] = codec.stored_type | None
        namespace[codec.name] = om_field(
            default=None,
            primary_key=codec.name == described.info.pk_name,
            index=indexed,
            case_sensitive=indexed and codec.stored_type is str,  # as SQL compares strings
        )
    namespace["__annotations__"] = annotations
    namespace["Meta"] = type(
        "Meta",
        (),
        {
            "global_key_prefix": prefix,
            "model_key_prefix": described.table,
            "index_name": described.index_name(prefix),
        },
    )
    return type(json_model)(f"{described.info.name}Document", (json_model,), namespace)


def index_definition(
    model: type[SQLModel], prefix: str, json_model: Any, om_field: Any
) -> tuple[list[str], str]:
    """The arguments of FT.CREATE after the index name, and a digest of them."""
    schema: str = derive_json_model(model, prefix, json_model, om_field).redisearch_schema()
    arguments = schema.split()
    return arguments, hashlib.sha1(" ".join(arguments).encode()).hexdigest()


@functools.cache
def script_source() -> str:
    """The Lua script that performs every write."""
    return resources.files("toolkit.repositories").joinpath("redis_script.lua").read_text()


def validate_redis_url(url: str) -> str:
    """``url`` when it names database 0 of a Redis server; `ConfigurationError` otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError("REDIS_URL is not a valid Redis URL") from exc
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ConfigurationError("REDIS_URL must be a redis:// or rediss:// URL with a host")
    database = parts.path.strip("/") or "0"
    for pair in parts.query.split("&"):
        name, _, value = pair.partition("=")
        if name == "db":
            database = value
    if database != "0":
        raise ConfigurationError(
            f"REDIS_URL names database {database!r}: RediSearch indexes database 0 only; "
            "share a server between applications with REDIS_KEY_PREFIX instead"
        )
    del port
    return url


def redis_location(url: str) -> str:
    """Where the server is, for messages: host and port, never the password."""
    parts = urlsplit(url)
    return f"Redis at {parts.hostname}:{parts.port or 6379}"
