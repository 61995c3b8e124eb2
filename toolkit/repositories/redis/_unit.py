"""A unit of work on Redis (``provider.transaction()``): what a block has written and read, kept
here until its end, when one run of the write script (``_unit.lua``) applies it. No I/O.

The block's writes are validated and encoded at each call, and kept as the write script's
operations, in order; the rows they write are kept too, so that the block's own reads see them.
What the block read from the store is kept as a check: each document as read (the SHA1 of its
JSON), and, for each table it queried, the table's change counter as it was before the query.
At the end, the script applies nothing unless every check still holds (nobody changed what the
block read: the block is serializable), then runs the operations in order; a refusal by any of
them undoes those before it. Nothing holds a connection or a lock while the block runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit._refusals import being_written, duplicate, missing_parent, still_referenced
from toolkit.errors import (
    BackendUnavailableError,
    ConflictError,
    NotFoundError,
    StaleVersionError,
    ToolkitError,
    UnsupportedQueryError,
)
from toolkit.repositories.redis._documents import RedisTable
from toolkit.repositories.redis._lookups import Row

__all__ = ["Level", "Operation", "ReadChanged", "Unit", "delete_reach", "refusal"]


class ReadChanged(ConflictError):
    """A unit's end found that something the block read had been changed by another client."""


def refusal(
    described: RedisTable[Any],
    reply: Sequence[Any],
    ids: Sequence[object] = (),
    versions: Sequence[int | None] = (),
    *,
    offset: int = 0,
    batch: str = "",
) -> ToolkitError:
    """The error a refusal of the write script means: ``reply`` is {kind, field, item[,
    extra]}; ``ids`` and ``versions`` are the written rows' keys and the versions they were
    to be at, from ``offset`` on, to name the one refused."""
    kind, name, item = str(reply[0]), described.facts.name, offset + int(reply[2]) - 1
    if kind == "changed":
        return ReadChanged(
            "the transaction read rows that another client changed before it ended; nothing "
            "of it was written: run it again"
        )
    if kind == "expired":
        return BackendUnavailableError(
            f"{name} batch {batch} was left unfinished too long and rolled back"
        )
    if kind == "notfound":
        return NotFoundError(name, ids[item])
    if kind == "stale":
        extra = str(reply[3]) if len(reply) > 3 else ""
        expected = versions[item]
        assert expected is not None  # a refusal for being stale names a version given
        return StaleVersionError(name, ids[item], expected, int(extra) if extra else None)
    # The script names what refused by field: the primary key's, a unique constraint's
    # ("a,b"), a foreign key's; or, refusing a delete, the referring table's ("table.field").
    told, facts = str(reply[1]), described.facts
    where = f" (item {item})" if len(ids) > 1 else ""
    if kind == "conflict":
        return duplicate(name, told.split(","), facts.pk_name, where)
    if kind == "constraint" and "." in told:
        return still_referenced(name)
    if kind == "constraint":
        return missing_parent(name, [told], where)
    if kind == "busy":  # what is named may be another table's (a row a delete reaches)
        fields = [field for field in told.split(",") if field in facts.column_of]
        return being_written(name, fields, where)
    return ToolkitError(f"{name}: the write script's reply {kind!r} is not one the toolkit knows")


def delete_reach(plan: str) -> frozenset[str]:
    """The tables other than its own whose rows a delete of the plan's root table can change
    (ON DELETE CASCADE, on and on, and SET NULL)."""
    tables = json.loads(plan)["tables"]
    reach: set[str] = set()
    pending = [json.loads(plan)["root"]]
    while pending:
        for ref in tables[pending.pop()]["refs"]:
            if ref["rule"] == "CASCADE" and ref["table"] not in reach:
                reach.add(ref["table"])
                pending.append(ref["table"])
            elif ref["rule"] == "SET NULL" and ref["nullable"]:
                reach.add(ref["table"])
    return frozenset(reach)


@dataclass(frozen=True, slots=True)
class Operation:
    """One write of the block: a write script operation on one table, and what names the row
    it refuses (the rows' keys, and the versions they are to be at)."""

    described: RedisTable[Any]
    name: str  # "create", "update", "delete" or "delete_at"
    plan: str
    arguments: Sequence[str]
    ids: Sequence[object] = ()
    versions: Sequence[int | None] = ()


@dataclass(eq=False, slots=True)
class Level:
    """A level of a block: the block itself, or a nested block open in it (its token: levels
    compare by identity); what the unit held when it began, to go back to if it fails."""

    unit: Unit
    operations: int
    written: dict[str, Row | None]
    tables: set[str]
    reached: dict[str, str]


@dataclass(eq=False, slots=True)
class Unit:
    """A block's pending writes and what it read from the store (see the module's text)."""

    owner: object = None  # what opened the block (a provider's scope)
    turns: Any = None  # what its calls take turns under (the scope's condition)
    operations: list[Operation] = field(default_factory=list)
    written: dict[str, Row | None] = field(default_factory=dict)  # key -> row; None: deleted
    seen: dict[str, Row | None] = field(default_factory=dict)  # key -> row as read; None: none
    reads: dict[str, str] = field(default_factory=dict)  # key -> SHA1 of its JSON; "": none
    counters: dict[str, str] = field(default_factory=dict)  # change counter -> value; "": none
    tables: set[str] = field(default_factory=set)  # tables written
    reached: dict[str, str] = field(default_factory=dict)  # table -> the table deleted from
    # The levels open: the block, then each nested block open in the one before.
    levels: list[Level] = field(default_factory=list)
    open: bool = True  # False once the block has ended: later calls are not part of it

    def __post_init__(self) -> None:
        self.levels.append(Level(self, 0, {}, set(), {}))

    # --- what the block sees -----------------------------------------------------------------

    def knows(self, key: str) -> bool:
        """Whether the row at document ``key`` is known without reading the store."""
        return key in self.written or key in self.seen

    def row(self, key: str) -> Row | None:
        """The row at ``key`` as the block sees it (`knows` it): its own write, or as read."""
        found = self.written[key] if key in self.written else self.seen[key]
        return None if found is None else dict(found)

    def read(self, key: str, raw: str | None, row: Row | None) -> None:
        """Note the document at ``key`` as read: ``raw``, the JSON.GET <key> $ reply (None: no
        document), and the row it holds."""
        self.seen[key] = row
        self.reads[key] = "" if raw is None else hashlib.sha1(raw.encode()).hexdigest()

    def read_through_batch(self, key: str, row: Row | None) -> None:
        """Note the row at ``key`` as read while a staged batch was in progress on its table
        (checked by the table's change counter, noted before the read)."""
        self.seen[key] = row

    def counted(self, counter: str) -> bool:
        return counter in self.counters

    def count(self, counter: str, value: Any) -> None:
        """Note change counter ``counter`` at ``value``, read before a query of its table."""
        self.counters.setdefault(counter, "" if value is None else str(value))

    def check_readable(self, described: RedisTable[Any]) -> None:
        """`UnsupportedQueryError` if a delete earlier in the block may change rows of this
        table that the block cannot know of before its end (cascades, SET NULL)."""
        source = self.reached.get(described.table)
        if source is not None:
            raise UnsupportedQueryError(
                f"{described.facts.name} rows cannot be read in this transaction after a "
                f"delete of {source} rows, whose ON DELETE rules may change them when it "
                "ends: read them before the delete, or after the transaction"
            )

    def check_queryable(self, described: RedisTable[Any]) -> None:
        """`UnsupportedQueryError` for a query of a table the block has written: queries read
        the store, where the block's writes are not until it ends."""
        self.check_readable(described)
        if described.table in self.tables:
            raise UnsupportedQueryError(
                f"a query of {described.facts.name} inside a transaction that has written "
                f"{described.facts.name} rows: on Redis the transaction's writes are applied "
                "when it ends, and queries would not see them. Query before writing, read rows "
                "by primary key (get, or a filter on the primary key), or query after the "
                "transaction"
            )

    # --- what the block writes ---------------------------------------------------------------

    def add(
        self,
        operation: Operation,
        rows: Mapping[str, Row | None],
        reach: frozenset[str] = frozenset(),
    ) -> None:
        """Keep ``operation``, which writes ``rows`` (document key -> row; None: deleted) and,
        deleting rows, may change those of the ``reach`` tables."""
        self.operations.append(operation)
        self.written.update(rows)
        self.tables.add(operation.described.table)
        for table in reach:
            self.reached.setdefault(table, operation.described.facts.name)

    # --- nested blocks ------------------------------------------------------------------------

    def may_run(self, chain: Sequence[Level]) -> bool:
        """Whether code inside the levels ``chain`` may run a call or open a nested block now:
        it is inside the innermost open level (or the block has ended). Code outside it waits
        until that nested block ends, so that it neither joins it nor is undone with it."""
        return not self.open or self.levels[-1] in chain

    def settled(self, level: Level) -> bool:
        """Whether the nested blocks opened inside ``level`` have all ended (or it has)."""
        return not self.open or level not in self.levels or self.levels[-1] is level

    def savepoint(self) -> Level:
        """Open a nested block inside the innermost open level; its level."""
        level = Level(
            self, len(self.operations), dict(self.written), set(self.tables), dict(self.reached)
        )
        self.levels.append(level)
        return level

    def release(self, level: Level) -> None:
        """Nested block ``level`` ended well: its writes join the enclosing level's."""
        if level in self.levels:
            del self.levels[self.levels.index(level) :]

    def rollback(self, level: Level) -> None:
        """Nested block ``level`` failed: its writes are dropped (what it read is still
        checked at the end)."""
        if level in self.levels:
            del self.levels[self.levels.index(level) :]
            del self.operations[level.operations :]
            self.written, self.tables, self.reached = level.written, level.tables, level.reached

    # --- the end -------------------------------------------------------------------------------

    def arguments(self, *, check: bool = False) -> list[str]:
        """The write script's arguments for the block's end (see ``_unit.lua``), or, to
        ``check``, for a trial of its operations that leaves nothing written."""
        arguments = ["check" if check else "unit", "", "", str(len(self.reads))]
        for key, digest in self.reads.items():
            arguments += [key, digest]
        arguments.append(str(len(self.counters)))
        for key, value in self.counters.items():
            arguments += [key, value]
        for operation in self.operations:
            arguments += [operation.name, operation.plan, str(len(operation.arguments))]
            arguments.extend(operation.arguments)
        return arguments

    def refusal(self, reply: Sequence[Any], level: Level | None = None) -> ToolkitError | None:
        """The error the block's end raises for the script's refusal ``reply``; at the end of
        nested block ``level``, the error of a refusal of one of its own operations (None for
        one before it, which the enclosing block's end reports)."""
        if str(reply[0]) == "changed":
            return refusal(self.operations[0].described, reply) if level is None else None
        number = int(reply[4])
        if level is not None and number <= level.operations:
            return None
        operation = self.operations[number - 1]
        return refusal(operation.described, reply, operation.ids, operation.versions)
