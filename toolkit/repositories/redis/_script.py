"""The write script and its plan: the one Lua script that performs every Redis write; and how
a script or a command is sent.

The plan tells the script, as JSON, the keys of the table written and of every table a delete
can reach through foreign keys (to cascade, set NULL or refuse), with their constraints.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from hiredis import pack_command
from sqlalchemy import Table

from toolkit._model import table_fields
from toolkit.repositories.redis._documents import unique_groups
from toolkit.repositories.redis._keys import RedisKeys, redis_keys

__all__ = ["Command", "Script", "packed", "read_source", "script_plan", "script_source"]

Command = Sequence[str | int] | bytes
"""A command's arguments, or the command already packed (see `packed`)."""


def packed(*arguments: str | int) -> bytes:
    """A command packed for the wire (by hiredis, in C): constant commands are packed once,
    to be sent as they are each time."""
    # hiredis's stub types the argument as a one-element tuple; it takes any number.
    wire: bytes = pack_command(arguments)  # type: ignore[arg-type]
    return wire


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script, and its SHA1 digest, by which it is run."""

    source: str
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", hashlib.sha1(self.source.encode()).hexdigest())


@functools.cache
def script_source() -> str:
    """The Lua script that performs every write: the single writes (``_script.lua``,
    ``_delete.lua``), the units of work (``_unit.lua``) and the staged batches
    (``_batch.lua``), one script."""
    package = resources.files("toolkit.repositories.redis")
    parts = ("_script.lua", "_delete.lua", "_unit.lua", "_batch.lua")
    return "\n".join(package.joinpath(name).read_text() for name in parts)


@functools.cache
def read_source() -> str:
    """The Lua script that reads one row by key or by a unique value (``_read.lua``)."""
    return resources.files("toolkit.repositories.redis").joinpath("_read.lua").read_text()


@functools.cache
def script_plan(table: Table, prefix: str) -> str:
    """The JSON the script reads: ``table`` and every table a delete can reach."""
    tables: dict[str, Any] = {}
    pending = [table]
    while pending:
        current = pending.pop()
        if current.name in tables:
            continue
        entry = _table_plan(current, prefix)
        tables[current.name] = entry
        for child in current.metadata.sorted_tables:
            child_field = table_fields(child)
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


def _locks(keys: RedisKeys) -> dict[str, str]:
    """What the script needs to know whether a row of a table is locked by a staged batch."""
    return {"gate": keys.gate, "meta": keys.meta}


def _table_plan(table: Table, prefix: str) -> dict[str, Any]:
    field = table_fields(table)
    keys = redis_keys(prefix, table.name)
    pk = next(iter(table.primary_key.columns))
    return {
        "key": keys.documents,
        "meta": keys.meta,
        "ids": keys.ids,
        "seq": keys.seq,
        "wide": keys.wide,
        "gate": keys.gate,
        "changes": keys.changes,
        "pk": field[pk.key],
        "numeric": pk.type.python_type is int,
        "unique": [",".join(group) for group in unique_groups(table)],
        "fks": [
            {
                "field": field[column.key],
                "parent": redis_keys(prefix, fk.column.table.name).documents,
                "parent_table": _locks(redis_keys(prefix, fk.column.table.name)),
            }
            for column in table.columns
            for fk in column.foreign_keys
        ],
        "refs": [],
    }
