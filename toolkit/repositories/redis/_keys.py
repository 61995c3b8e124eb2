"""Where a model's data lives in Redis: every key and index name, written in this one place.

- documents: ``<prefix>:<table>:<primary key token>``;
- bookkeeping under ``<prefix>:__meta__:<table>:``: ``ids`` (the sorted set of primary keys, in
  ``list()`` order), ``seq`` (the key counter of integer keys), ``unique:<fields>`` (one hash per
  unique constraint: value -> owner), ``fk:<field>:<parent token>`` (the children of a parent, to
  cascade), and ``index_hash`` (the digest of the search index's definition);
- the search index: ``<prefix>:<table>:index``.

The script plan carries `documents`, `meta`, `ids` and `seq` to the Lua script, which builds
the constraint keys (``unique:``, ``fk:``) below `meta`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

__all__ = ["RedisKeys", "redis_keys"]


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """The keys of one table under one key prefix."""

    documents: str  # the prefix of the table's document keys
    meta: str  # the prefix of the table's bookkeeping keys
    ids: str
    seq: str
    index: str
    index_hash: str

    def document(self, pk_token: str) -> str:
        return self.documents + pk_token


@functools.cache
def redis_keys(prefix: str, table: str) -> RedisKeys:
    """The keys of ``table`` under ``prefix`` (made once per pair)."""
    meta = f"{prefix}:__meta__:{table}:"
    return RedisKeys(
        documents=f"{prefix}:{table}:",
        meta=meta,
        ids=f"{meta}ids",
        seq=f"{meta}seq",
        index=f"{prefix}:{table}:index",
        index_hash=f"{meta}index_hash",
    )
