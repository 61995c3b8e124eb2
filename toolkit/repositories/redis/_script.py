"""The write script and its plan: the one Lua script that performs every Redis write; and how
a script or a command is sent.

The plan tells the script, as JSON, the keys of the table written and of every table a delete
can reach through foreign keys (to cascade, set NULL or refuse), with their constraints. A
write of rows (create, update, upsert) needs only its own table's: it is sent the shorter
`row_plan`, which the script decodes in less time.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal

from hiredis import pack_command
from sqlalchemy import Table

from toolkit._model import table_fields
from toolkit.errors import ConfigurationError
from toolkit.repositories.redis._documents import unique_groups
from toolkit.repositories.redis._keys import RedisKeys, redis_keys

__all__ = [
    "ROW_OPERATIONS",
    "ROW_WRITES",
    "Command",
    "Script",
    "ScriptName",
    "fill_source",
    "packed",
    "read_source",
    "row_plan",
    "row_source",
    "script_plan",
    "script_source",
    "scripts",
]

ROW_OPERATIONS = frozenset({"create", "update", "upsert", "stage_create", "stage_update"})
"""The script's operations that write rows of the root table only: they take `row_plan`."""

ROW_WRITES = frozenset({"create", "update", "upsert"})
"""The operations `row_source` runs, outside a staged batch."""

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
    (``_batch.lua``), one script, which runs the operation it is given (``_run.lua``)."""
    return _joined("_script.lua", "_delete.lua", "_unit.lua", "_batch.lua", "_run.lua")


@functools.cache
def row_source() -> str:
    """The Lua script of a create, update or upsert outside units and batches (`ROW_WRITES`):
    the first part of `script_source` alone, which sets up less at each run."""
    return _joined("_script.lua", "_run.lua")


ScriptName = Literal["write", "rows", "read"]
"""A script by what it runs: every write (`script_source`), the writes of rows outside units and
batches (`row_source`), the reads of one row (`read_source`)."""


@functools.cache
def scripts() -> dict[ScriptName, Script]:
    """Each script, by its name."""
    return {
        "write": Script(script_source()),
        "rows": Script(row_source()),
        "read": Script(read_source()),
    }


def _joined(*parts: str) -> str:
    package = resources.files("toolkit.repositories.redis")
    return "\n".join(package.joinpath(name).read_text() for name in parts)


@functools.cache
def fill_source() -> str:
    """The Lua script that fills in a model's new fields in stored documents (``_fill.lua``)."""
    return resources.files("toolkit.repositories.redis").joinpath("_fill.lua").read_text()


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
            references = [
                (column, fk)
                for column in child.columns
                for fk in column.foreign_keys
                if fk.column.table is current
            ]
            if not references:
                continue
            try:
                child_field = table_fields(child)
            except ConfigurationError:  # a table no repository can hold (a composite key)
                continue
            for column, fk in references:
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


@functools.cache
def row_plan(table: Table, prefix: str) -> str:
    """The plan of a write of ``table``'s rows: ``table`` alone, the tables a delete of its rows
    would reach left out (the writes of rows read only their own table's entry)."""
    tables = {table.name: _table_plan(table, prefix)}
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
