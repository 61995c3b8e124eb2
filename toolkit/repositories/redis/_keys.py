"""Where a model's data lives in Redis: every key and index name, written in this one place.

- documents: ``<prefix>:<table>:<primary key token>``;
- bookkeeping under ``<prefix>:__meta__:<table>:``: ``ids`` (the sorted set of primary key
  tokens, in ``list()`` order), ``seq`` (the key counter of integer keys), ``wide`` (the fields
  that have held an integer beyond 2**53, which the index orders inexactly), ``gate`` (the
  staged batches in progress on the table, each with its ``batch:<id>:new``, ``:old`` and
  ``:gone``: see `toolkit.repositories.redis._batch`), ``changes`` (a counter every write
  script run moves once for each table it writes: a unit of work that queried the table
  checks at its end that it has not moved), ``fields`` (the set of fields the table's documents
  have been given: a field a model adds is filled in with its default, once, in the documents
  stored before; see `toolkit.repositories.redis._indexes`), ``migrating`` (the lock of the
  process doing so), ``unique:<fields>``
  (one hash per unique constraint: value -> owner), ``fk:<field>:<parent token>`` (the children
  of a parent, to cascade);
- the search index: the alias ``<prefix>:<table>:index``, which names the current physical
  index ``<prefix>:<table>:index:<digest of its schema>``.

Table names and primary key tokens are key components: `key_component` percent-encodes ``%``,
``:``, ``{`` and ``}`` in them, so no two (table, key) pairs share a key whatever characters
they hold (tables ``a`` with key ``b:x`` and ``a:b`` with key ``x`` stay apart), and no user
value makes a cluster hash tag. Field names are Python identifiers and need no encoding. The
Lua script encodes the same way (its ``component``), and builds the constraint keys
(``unique:``, ``fk:``) below `meta`, which the script plan carries with `documents`, `ids`,
`seq` and `wide`.

Keys a write touches, for a Redis Cluster mode to place in one hash slot: the documents written
or deleted, the table's ``ids``, ``seq``, ``wide``, ``gate`` and ``changes``, its ``unique:``
hashes, the ``fk:`` sets of the parents it refers to (and the parents' documents and gates,
read), and for a delete, the same of every table its ON DELETE rules reach; a staged batch, also
its ``batch:<id>:`` records in each of those tables; a unit of work's end, what each of its writes
touches, and the documents and ``changes`` counters it checks. A read touches the table's
``gate`` with what it reads.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

__all__ = ["RedisKeys", "key_component", "redis_keys"]

_ESCAPES = {ord(character): f"%{ord(character):02X}" for character in "%:{}"}


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """The keys of one table under one key prefix."""

    table: str  # the table's name as a key component
    documents: str  # the prefix of the table's document keys
    meta: str  # the prefix of the table's bookkeeping keys
    ids: str
    seq: str
    wide: str
    gate: str
    changes: str
    fields: str
    migrating: str
    index: str

    def document(self, pk_token: str) -> str:
        return self.documents + key_component(pk_token)


def key_component(text: str) -> str:
    """``text`` as one component of a key: ``%``, ``:``, ``{`` and ``}`` percent-encoded."""
    return text.translate(_ESCAPES)


@functools.cache
def redis_keys(prefix: str, table: str) -> RedisKeys:
    """The keys of ``table`` under ``prefix`` (made once per pair)."""
    component = key_component(table)
    meta = f"{prefix}:__meta__:{component}:"
    return RedisKeys(
        table=component,
        documents=f"{prefix}:{component}:",
        meta=meta,
        ids=f"{meta}ids",
        seq=f"{meta}seq",
        wide=f"{meta}wide",
        gate=f"{meta}gate",
        changes=f"{meta}changes",
        fields=f"{meta}fields",
        migrating=f"{meta}migrating",
        index=f"{prefix}:{component}:index",
    )
