"""Running the write script on one model's rows: one run per write, or a staged batch; and
the reads a unit of work (`_unit`) makes, which its end checks before it writes.

A batch of over ``chunk`` rows is not written in one run, which would keep every other client
of the server waiting: it is staged in runs of ``chunk`` rows and committed in one short run
(`_batch.lua`), all or nothing.
"""

from __future__ import annotations

import contextlib
import functools
import json
import secrets
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, cast

from toolkit._model import ModelT
from toolkit.errors import ToolkitError
from toolkit.query._evaluate import evaluate
from toolkit.query._tree import Condition
from toolkit.repositories.redis._connection import RedisScope
from toolkit.repositories.redis._documents import RedisTable
from toolkit.repositories.redis._keys import redis_keys
from toolkit.repositories.redis._lookups import Row, keyed
from toolkit.repositories.redis._reader import RedisReader
from toolkit.repositories.redis._script import (
    ROW_OPERATIONS,
    ROW_WRITES,
    ScriptName,
    row_plan,
    script_plan,
)
from toolkit.repositories.redis._unit import Unit, refusal

_READ_CHUNK = 1_000  # documents per read by key
_WAVE = 8  # runs of a staged batch sent together: the next run's rows wait on the server

Call = TypeVar("Call", bound=Callable[..., Any])


class RedisWriter(Generic[ModelT]):
    """The write script's runs on one model's rows under one provider's key prefix, and the
    reads of a unit of work."""

    def __init__(
        self, described: RedisTable[ModelT], scope: RedisScope, reader: RedisReader[ModelT]
    ) -> None:
        self._table = described
        self._scope = scope
        self._reader = reader
        self._keys = redis_keys(scope.prefix, described.table)
        self.plan = script_plan(described.facts.table, scope.prefix)
        self.row_plan = row_plan(described.facts.table, scope.prefix)

    @staticmethod
    def taking_turns(method: Call) -> Call:
        """``method``, a repository's call (on ``self._scope``): inside a block, run in its turn
        (`RedisScope.turn`), where `RedisScope.unit` gives the block's unit. (A method, so
        that the sync repository finds the sync one by its class.)"""

        @functools.wraps(method)
        async def call(self: Any, *arguments: Any, **options: Any) -> Any:
            scope: RedisScope = self._scope
            unit = scope.block()
            if unit is None:
                return await method(self, *arguments, **options)
            async with scope.turn(unit):
                return await method(self, *arguments, **options)

        return cast(Call, call)

    async def run(
        self,
        operation: str,
        *arguments: str,
        ids: Sequence[object] = (),
        versions: Sequence[int | None] = (),
        batch: str = "",
        offset: int = 0,
    ) -> list[Any]:
        """Run the write script; its reply after "ok", or the error its refusal means
        (``ids`` and ``versions`` are the rows written, from ``offset`` on, to name the one
        refused)."""
        script: ScriptName = "rows" if not batch and operation in ROW_WRITES else "write"
        outcome = await self._scope.run_script(
            self._table, self._call(operation, arguments, batch), script
        )
        if outcome[0] != "ok":
            raise refusal(self._table, outcome, ids, versions, offset=offset, batch=batch)
        return outcome[1:]

    def _call(self, operation: str, arguments: Sequence[str], batch: str) -> tuple[str, ...]:
        """The write script's arguments for ``operation`` with its own ``arguments``."""
        plan = self.row_plan if operation in ROW_OPERATIONS else self.plan
        return (operation, plan, batch, *arguments)

    async def write(
        self,
        operation: str,
        arguments: Sequence[str],
        arity: int,
        ids: Sequence[object] = (),
        versions: Sequence[int | None] = (),
        *,
        chunk: int,
        each: Callable[[int, list[str]], None] | None = None,
    ) -> list[str]:
        """One write of rows given as ``arity`` script arguments each: one script run, or a
        staged batch of runs of ``chunk`` rows where there are more; the rows' tokens.
        ``each``: given the position of each run's first row and the tokens of its rows as
        its reply comes (while the server runs the next runs of a staged batch)."""
        if len(arguments) <= chunk * arity:
            reply = await self.run(operation, *arguments, ids=ids, versions=versions)
            tokens = [str(token) for token in reply]
            if each is not None:
                each(0, tokens)
            return tokens
        await self._finish_expired(chunk)
        batch = secrets.token_hex(8)
        size = chunk * arity
        runs = [(at // arity, arguments[at : at + size]) for at in range(0, len(arguments), size)]
        tokens = []
        try:
            # Begun inside: a call cancelled once the server has begun it, before its reply
            # came, rolls back too (finishing a batch never begun does nothing).
            await self.run("begin", batch=batch)
            for wave in range(0, len(runs), _WAVE):
                staged = runs[wave : wave + _WAVE]
                tokens += await self._stage(operation, staged, batch, ids, versions, each)
            await self.run("commit", batch=batch)
        except BaseException:
            # Refused, cut off or cancelled: rolled back here or, if that fails too, by the
            # next batch or reader once the lease runs out. No reader sees any of it meanwhile.
            with contextlib.suppress(Exception):
                await self._finish(batch, chunk)
            raise
        # Committed: what is left (rows deleted for good, old versions dropped) changes
        # nothing a reader sees; if it is cut off, the next batch finishes it.
        with contextlib.suppress(ToolkitError):
            await self._finish(batch, chunk)
        return tokens

    async def _stage(
        self,
        operation: str,
        runs: Sequence[tuple[int, Sequence[str]]],
        batch: str,
        ids: Sequence[object],
        versions: Sequence[int | None],
        each: Callable[[int, list[str]], None] | None,
    ) -> list[str]:
        """Stage ``runs`` of a batch's rows (each: its first row's position, its arguments),
        sent together: the tokens of the rows staged; the first refusal is raised once every
        reply has come (the runs after it are rolled back with the batch)."""
        tokens: list[str] = []
        refused: list[ToolkitError] = []

        def take(position: int, outcome: Any) -> None:
            first = runs[position][0]
            if outcome[0] != "ok":
                if not refused:
                    refused.append(
                        refusal(self._table, outcome, ids, versions, offset=first, batch=batch)
                    )
                return
            done = [str(token) for token in outcome[1:]]
            tokens.extend(done)
            if each is not None and not refused:
                each(first, done)

        calls = [self._call("stage_" + operation, part, batch) for _, part in runs]
        await self._scope.run_scripts(self._table, calls, "write", take)
        if refused:
            raise refused[0]
        return tokens

    async def _finish(self, batch: str, chunk: int) -> None:
        """The work a staged batch leaves once it has committed or failed, in short runs."""
        while (await self.run("finish", str(chunk), batch=batch))[0] != "done":
            pass

    async def _finish_expired(self, chunk: int) -> None:
        """Finish the batches whose clients stopped part-way (their lease ran out)."""
        for batch in await self.run("expired"):
            await self._finish(str(batch), chunk)

    async def in_unit(self, condition: Condition | None) -> list[Row] | None:
        """Inside a block: the rows ``condition`` names by primary key, as the block sees
        them; None for a query of the store, once the block has noted the table's change
        counter (or refused the query: see `Unit.check_queryable`). Outside: None."""
        unit = self._scope.unit()
        if unit is None:
            return None
        keys = keyed(condition, self._table.facts.pk_name)
        if keys is None:
            unit.check_queryable(self._table)
            if not unit.counted(self._keys.changes):
                value = await self._scope.command(self._table, "GET", self._keys.changes)
                unit.count(self._keys.changes, value)
            return None
        tokens = list(dict.fromkeys(self._table.pk_token(key) for key in keys))
        return [
            row
            for row in await self.seen(unit, tokens)
            if row is not None and (condition is None or evaluate(condition, row) is True)
        ]

    async def seen(self, unit: Unit, tokens: Sequence[str]) -> list[Row | None]:
        """The rows with these primary key tokens as ``unit``'s block sees them: its own
        writes, else the store's rows, read once and checked unchanged at its end."""
        unit.check_readable(self._table)
        unknown = [
            token for token in dict.fromkeys(tokens) if not unit.knows(self._keys.document(token))
        ]
        for start in range(0, len(unknown), _READ_CHUNK):
            chunk = unknown[start : start + _READ_CHUNK]
            keys = [self._keys.document(token) for token in chunk]
            gated, raws = await self._scope.atomic(
                self._table, ("EXISTS", self._keys.gate), ("JSON.MGET", *keys, "$")
            )
            if not gated:
                for key, raw in zip(keys, raws, strict=True):
                    row = None if raw is None else self._table.values(json.loads(raw)[0])
                    unit.read(key, raw, row)
                continue
            # A staged batch is in progress on the table: read as readers see it, and checked
            # by the table's change counter, noted first.
            if not unit.counted(self._keys.changes):
                value = await self._scope.command(self._table, "GET", self._keys.changes)
                unit.count(self._keys.changes, value)
            for token, key in zip(chunk, keys, strict=True):
                unit.read_through_batch(key, await self._reader.document(token))
        return [unit.row(self._keys.document(token)) for token in tokens]
