"""The search index of a model: a redis-om ``JsonModel`` derived from the SQLModel class.

The one module that imports redis-om. The derived model exists only to produce the RediSearch
schema (FT.CREATE arguments): documents are written by the toolkit's own script and read with
JSON commands. The primary key and every ``index=True``, ``unique=True`` and foreign-key column
become indexed fields; strings are indexed case-sensitively, as SQL compares them.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from aredis_om import Field as AsyncOmField
from aredis_om import JsonModel as AsyncOmJsonModel
from redis_om import Field as OmField
from redis_om import JsonModel as OmJsonModel
from sqlmodel import SQLModel

from toolkit.repositories.redis._documents import redis_table
from toolkit.repositories.redis._keys import redis_keys

__all__ = ["aindex_definition", "index_definition"]


def aindex_definition(model: type[SQLModel], prefix: str) -> tuple[list[str], str]:
    """The FT.CREATE arguments after the index name, and their digest, from redis-om's async
    package (``aredis_om``)."""
    return _definition(model, prefix, AsyncOmJsonModel, AsyncOmField)


def index_definition(model: type[SQLModel], prefix: str) -> tuple[list[str], str]:
    """The FT.CREATE arguments after the index name, and their digest, from redis-om's sync
    package (``redis_om``)."""
    return _definition(model, prefix, OmJsonModel, OmField)


@functools.cache
def _definition(
    model: type[SQLModel], prefix: str, json_model: Any, om_field: Any
) -> tuple[list[str], str]:
    schema: str = _derive_json_model(model, prefix, json_model, om_field).redisearch_schema()
    arguments = schema.split()
    return arguments, hashlib.sha1(" ".join(arguments).encode()).hexdigest()


def _derive_json_model(model: type[SQLModel], prefix: str, json_model: Any, om_field: Any) -> Any:
    """The JsonModel that mirrors ``model``, built on ``json_model`` with its ``Field``.

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
            primary_key=codec.name == described.facts.pk_name,
            index=indexed,
            case_sensitive=indexed and codec.stored_type is str,  # as SQL compares strings
        )
    namespace["__annotations__"] = annotations
    keys = redis_keys(prefix, described.table)
    namespace["Meta"] = type(
        "Meta",
        (),
        {  # redis-om's key prefix is "<global>:<model>:", the documents' prefix (see _keys)
            "global_key_prefix": prefix,
            "model_key_prefix": keys.table,
            "index_name": keys.index,
        },
    )
    return type(json_model)(f"{described.facts.name}Document", (json_model,), namespace)
