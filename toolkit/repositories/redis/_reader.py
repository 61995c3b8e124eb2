"""Reading Redis rows: queries through the search index, and documents by key.

The index answers what it can exactly (`_search` plans it): it filters, counts, orders and cuts
the window, and the window's documents come in the same command. What it cannot answer is
checked here, on the candidates it returns, read through a cursor in batches; rows named by
their primary keys are read by key.

Every read asks, in the same transaction, whether a staged batch (`_batch.lua`) is in progress
on the table. Seldom one is: then its rows are seen as before it (or, once committed, after it),
which the index cannot tell: such reads are answered from every candidate and the batch's
records (`_gated`)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from toolkit._model import ModelT
from toolkit.query._evaluate import evaluate, sort_rows
from toolkit.query._tree import Condition, Order
from toolkit.repositories.redis._connection import RedisScope
from toolkit.repositories.redis._documents import RedisTable, redis_table
from toolkit.repositories.redis._keys import RedisKeys, redis_keys
from toolkit.repositories.redis._lookups import (
    Row,
    View,
    count_arguments,
    keyed,
    search_arguments,
    search_rows,
    search_total,
    unique_hashes,
    unique_value,
    view_of,
)
from toolkit.repositories.redis._script import Command, packed, script_plan
from toolkit.repositories.redis._search import NONE, SearchPlan, redis_search

T = TypeVar("T")

_MGET_CHUNK = 1_000
_BATCH = 1_000  # rows per cursor read
_WINDOW = 10_000  # the largest offset + limit one FT.AGGREGATE answers (servers may cap it)
_NO_LIMIT = 2**31 - 1


class _Gated(Exception):
    """A staged batch is in progress on the table: the read is answered by `_gated`."""


class RedisReader(Generic[ModelT]):
    """The reads of one model's rows under one provider's key prefix."""

    def __init__(self, model: type[ModelT], scope: RedisScope) -> None:
        self._table: RedisTable[ModelT] = redis_table(model)
        self._scope = scope
        self._keys: RedisKeys = redis_keys(scope.prefix, self._table.table)
        self._search = redis_search(model)
        self._gate = packed("EXISTS", self._keys.gate)
        # The fields that have ever held an integer beyond 2**53, which the index holds as a
        # rounded double and so cannot order exactly (where an order needs one, order here),
        # or a text the index holds as the tag of a shorter one (match such fields here).
        self._wide = ("SMEMBERS", self._keys.wide)
        self._unique = unique_hashes(self._table, self._keys)
        self._pk = self._table.facts.pk_name

    async def rows(
        self,
        condition: Condition | None,
        orders: Sequence[Order],
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Row]:
        """The field values of the rows that match, in order, from ``offset`` on, at most
        ``limit`` of them: what the index cannot answer exactly is checked here."""
        try:
            unique = unique_value(condition, self._table, self._unique)
            keys = keyed(condition, self._pk)
            if unique is None or keys is not None:
                return await self._query_rows(condition, keys, orders, offset, limit)
            # One row at most: found by its unique value.
            rows = await self._by_unique(*unique, condition)
        except _Gated:
            rows = await self._gated(condition)
        sort_rows(rows, orders)
        return rows[offset:] if limit is None else rows[offset : offset + limit]

    async def _query_rows(
        self,
        condition: Condition | None,
        keys: tuple[Any, ...] | None,
        orders: Sequence[Order],
        offset: int,
        limit: int | None,
    ) -> list[Row]:
        """`rows`, with ``keys`` the primary keys ``condition`` names, if any."""
        if keys is not None:  # the rows of given keys: read by key, checked and ordered here
            rows = await self._by_key(keys, condition)
        else:
            plan = await self._plan(condition, orders)
            if plan.query == NONE or limit == 0:
                return []
            window = await self._window(plan, offset, limit)
            if window is not None:
                return window
            noted = await self._noted() if plan.sorted_exactly and plan.wide else set()
            if plan.sorted_exactly and not noted.intersection(plan.wide):
                # The rows checked here, read in the index's order up to the window's end.
                return await self._found(plan, condition, offset=offset, limit=limit)
            rows = await self._found(plan, condition, unordered=True)  # ordered here
        sort_rows(rows, orders)
        return rows[offset:] if limit is None else rows[offset : offset + limit]

    async def count(self, condition: Condition | None) -> int:
        """How many rows match: the index counts, reading no document, where it can."""
        try:
            return await self._count(condition)
        except _Gated:
            return len(await self._gated(condition))

    async def _count(self, condition: Condition | None) -> int:
        if condition is None:
            return int(await self._guarded(("ZCARD", self._keys.ids)))
        keys = keyed(condition, self._pk)
        if keys is not None:
            return len(await self._by_key(keys, condition))
        unique = unique_value(condition, self._table, self._unique)
        if unique is not None:
            return len(await self._by_unique(*unique, condition))
        plan = await self._plan(condition, ())
        if plan.query == NONE:
            return 0
        if plan.exact:
            count = count_arguments(self._keys.index, plan.query, plan.params)
            return search_total(self._table, await self._guarded(count))
        return await self._count_found(plan, condition)

    async def every(self) -> list[Row]:
        """The field values of every row, in primary-key order."""
        try:
            tokens = await self._guarded(("ZRANGE", self._keys.ids, 0, -1))
        except _Gated:
            rows = await self._gated(None)
            sort_rows(rows, ())
            return rows
        return await self._documents(tokens, guarded=False)

    async def document(self, pk_token: str) -> Row | None:
        """The field values of the row with this primary key token, or None."""
        try:
            raw = await self._read_one("", self._keys.document(pk_token))
        except _Gated:
            key = self._keys.document(pk_token)
            raw, view = await self._consistently(
                lambda: self._scope.command(self._table, "JSON.GET", key)
            )
            if pk_token in view.hidden:
                return None
            if pk_token in view.replaced:
                return view.replaced[pk_token]
        return None if raw is None else self._table.values(json.loads(raw))

    async def matching(self, condition: Condition | None) -> list[Row]:
        """The field values of the rows that match ``condition``, in no particular order."""
        try:
            keys = keyed(condition, self._pk)
            if keys is None:
                plan = await self._plan(condition, ())
                return await self._found(plan, condition, unordered=True)
            return await self._by_key(keys, condition)
        except _Gated:
            return await self._gated(condition)

    async def _by_unique(self, field: str, token: str, condition: Condition | None) -> list[Row]:
        """The row whose value of unique ``field`` has this token, if it matches ``condition``."""
        raw = await self._read_one(self._unique[field], token)
        if raw is None:
            return []
        row = self._table.values(json.loads(raw))
        return [row] if condition is None or evaluate(condition, row) is True else []

    async def _read_one(self, unique: str, key: str) -> str | None:
        """The JSON of one document, by key (``unique`` "") or by the token ``key`` of a value
        in the ``unique`` hash, read in one script run with the table's gate."""
        reply = await self._scope.run_script(
            self._table, [self._keys.gate, unique, key, self._keys.documents], "read"
        )
        if reply[0] == "gated":
            raise _Gated
        return str(reply[1]) if len(reply) > 1 and reply[1] is not None else None

    async def _guarded(self, command: Command) -> Any:
        """``command``'s reply, read in one transaction with the table's gate; `_Gated` if a
        staged batch is in progress on the table."""
        gated, reply = await self._scope.atomic(self._table, self._gate, command)
        if gated:
            raise _Gated
        return reply

    async def _gated(self, condition: Condition | None) -> list[Row]:
        """The rows that match ``condition`` as readers see them while staged batches are in
        progress: the index's candidates, checked here, less the rows the batches hide, with
        the rows they change as they were."""
        plan = await self._plan(condition, ())

        async def candidates() -> list[Row]:
            rows: list[Row] = []

            def keep(row: Row) -> bool:
                rows.append(row)
                return True

            await self._scan(plan, condition, keep, unordered=True, guarded=False)
            return rows

        rows, view = await self._consistently(candidates)
        pk, token = self._table.facts.pk_name, self._table.pk_token
        kept = [
            row
            for row in rows
            if (key := token(row[pk])) not in view.hidden and key not in view.replaced
        ]
        kept.extend(
            row
            for row in view.replaced.values()
            if condition is None or evaluate(condition, row) is True
        )
        return kept

    async def _consistently(self, read: Callable[[], Awaitable[T]]) -> tuple[T, View]:
        """``read``'s answer, and the view of the batches in progress to see it through: read
        between two reads of the view that find the same batches on the same sides of their
        commits (their records only grow in between), else read again."""
        before = await self._view()
        while True:
            answer = await read()
            after = await self._view()
            if after.sides == before.sides:
                return answer, after
            before = after

    async def _view(self) -> View:
        """What the staged batches in progress on the table hide and change, in one read."""
        plan = script_plan(self._table.facts.table, self._scope.prefix)
        while True:
            _ok, sides, hidden, old, expired = await self._scope.run_script(
                self._table, ["view", plan, ""]
            )
            if not expired:
                return view_of(self._table, sides, hidden, old)
            for batch in expired:  # its client stopped part-way: finished here, then again
                finish = ["finish", plan, str(batch), str(_BATCH)]
                while (await self._scope.run_script(self._table, finish))[1] != "done":
                    pass

    async def _by_key(self, keys: tuple[Any, ...], condition: Condition | None) -> list[Row]:
        """The field values of the rows with these primary keys that match ``condition``."""
        rows = await self._documents(dict.fromkeys(self._table.pk_token(key) for key in keys))
        return [row for row in rows if condition is None or evaluate(condition, row) is True]

    async def _documents(self, tokens: Iterable[str], *, guarded: bool = True) -> list[Row]:
        """The field values of the rows with these primary key tokens, in their order (the
        first read ``guarded``: with the table's gate)."""
        keys = [self._keys.document(token) for token in tokens]
        documents: list[str | None] = []
        for start in range(0, len(keys), _MGET_CHUNK):
            chunk = ("JSON.MGET", *keys[start : start + _MGET_CHUNK], "$")
            if guarded and not start:
                documents.extend(await self._guarded(chunk))
            else:
                documents.extend(await self._scope.command(self._table, *chunk))
        # A document deleted meanwhile (or never there) is no row.
        return [self._table.values(json.loads(raw)[0]) for raw in documents if raw is not None]

    async def _found(
        self,
        plan: SearchPlan,
        condition: Condition | None,
        *,
        offset: int = 0,
        limit: int | None = None,
        unordered: bool = False,
    ) -> list[Row]:
        """The field values of the candidates that match ``condition``, read through a cursor
        in the plan's order (or the index's own), from ``offset`` on, at most ``limit``."""
        rows: list[Row] = []
        skip = offset

        def keep(row: Row) -> bool:
            nonlocal skip
            if skip:
                skip -= 1
            else:
                rows.append(row)
            return limit is None or len(rows) < limit

        await self._scan(plan, condition, keep, unordered=unordered)
        return rows

    async def _count_found(self, plan: SearchPlan, condition: Condition | None) -> int:
        """How many candidates match ``condition``: counted as they stream, none kept."""
        counted = 0

        def count(_row: Row) -> bool:
            nonlocal counted
            counted += 1
            return True

        await self._scan(plan, condition, count, unordered=True)
        return counted

    async def _scan(
        self,
        plan: SearchPlan,
        condition: Condition | None,
        visit: Callable[[Row], bool],
        *,
        unordered: bool,
        guarded: bool = True,
    ) -> None:
        """``visit`` each candidate that matches ``condition`` (checked here where the plan is
        not exact), read through a cursor in batches, until it returns False (the first read
        ``guarded``: with the table's gate)."""
        if plan.query == NONE:
            return
        check = None if plan.exact else condition
        sort: tuple[str | int, ...] = () if unordered else (*plan.sort, "MAX", _NO_LIMIT)
        first = search_arguments(
            self._keys.index,
            "FT.AGGREGATE",
            plan.query,
            *sort,
            *("LOAD", 1, "$", "WITHCURSOR", "COUNT", _BATCH),
            params=plan.params,
        )
        if guarded:
            reply, cursor = await self._guarded(first)
        else:
            reply, cursor = await self._scope.command(self._table, *first)
        try:
            while True:
                for row in search_rows(self._table, reply):
                    if check is not None and evaluate(check, row) is not True:
                        continue
                    if not visit(row):
                        return
                if not cursor:
                    return
                reply, cursor = await self._scope.command(
                    self._table, "FT.CURSOR", "READ", self._keys.index, cursor
                )
        finally:
            if cursor:  # stopped early: free the server's cursor
                await self._scope.command(self._table, "FT.CURSOR", "DEL", self._keys.index, cursor)

    async def _window(self, plan: SearchPlan, offset: int, limit: int | None) -> list[Row] | None:
        """The window in one command, where the index filters and orders exactly: it cuts the
        window and reads only its documents (with the check of wide values, in the same round
        trip); None where it cannot."""
        if (
            not (plan.exact and plan.sorted_exactly and limit is not None)
            or offset + limit > _WINDOW
        ):
            return None
        window = search_arguments(
            self._keys.index,
            "FT.AGGREGATE",
            plan.query,
            *plan.sort,
            *("LIMIT", offset, limit, "LOAD", 1, "$"),
            params=plan.params,
        )
        if not plan.wide:
            return search_rows(self._table, await self._guarded(window))
        gated, wide, reply = await self._scope.atomic(self._table, self._gate, self._wide, window)
        if gated:
            raise _Gated
        return search_rows(self._table, reply) if not set(plan.wide) & set(wide) else None

    async def _plan(self, condition: Condition | None, orders: Sequence[Order]) -> SearchPlan:
        """The plan, inexact where it matches by tag a field that held a long text (a tag
        shared with a shorter text: see `TAG_BYTES`)."""
        plan = self._search.plan(condition, orders)
        if plan.exact and plan.tagged and set(plan.tagged) & await self._noted():
            return dataclasses.replace(plan, exact=False)
        return plan

    async def _noted(self) -> set[Any]:
        """The fields the index holds some value of inexactly (see `_wide`)."""
        return set(await self._scope.command(self._table, *self._wide))
