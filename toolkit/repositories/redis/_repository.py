"""The Redis repository: SQLModel rows as RedisJSON documents, constraints kept by one Lua script.

How a row becomes a document is `_documents`; the I/O and its errors are `_connection`. Each
call is one round trip after the first: the write script, a JSON.GET, or a ZRANGE and MGETs.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from toolkit._model import ModelT, PrimaryKey, keys_of
from toolkit._rows import build_instance, validate_all, validate_for_write
from toolkit.errors import (
    BackendUnavailableError,
    ConflictError,
    ConstraintError,
    NotFoundError,
    ToolkitError,
    ValidationError,
)
from toolkit.query._cursor import after, check_window, decode_cursor, page_of
from toolkit.query._evaluate import evaluate, sort_rows
from toolkit.query._translate import translate_order, translate_strict
from toolkit.query._tree import And, Compare, Condition, InSet, Order, OrderBy, Page, Where
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.redis._connection import RedisScope
from toolkit.repositories.redis._documents import RedisTable, redis_table
from toolkit.repositories.redis._keys import RedisKeys, redis_keys
from toolkit.repositories.redis._script import script_plan
from toolkit.repositories.redis._search import NONE, SearchPlan, redis_search

_MGET_CHUNK = 1_000
_BATCH = 1_000  # rows per cursor read
_WINDOW = 10_000  # the largest offset + limit one FT.AGGREGATE answers (servers may cap it)
_NO_LIMIT = 2**31 - 1
_FAILURES: dict[str, type[ToolkitError]] = {
    "conflict": ConflictError,
    "constraint": ConstraintError,
}


class RedisRepository(BaseRepository[ModelT]):
    """`BaseRepository` on Redis JSON documents."""

    def __init__(self, model: type[ModelT], scope: RedisScope) -> None:
        self.model = model
        self._table: RedisTable[ModelT] = redis_table(model)
        self._scope = scope
        self._keys: RedisKeys = redis_keys(scope.prefix, self._table.table)
        self._plan = script_plan(self._table.facts.table, scope.prefix)
        self._search = redis_search(model)

    async def _run(
        self, operation: str, *arguments: str, instances: Sequence[ModelT] = ()
    ) -> builtins.list[str]:
        outcome = await self._scope.run_script(self._table, [operation, self._plan, *arguments])
        if outcome[0] != "ok":
            kind, field, item = outcome[0], outcome[1], int(outcome[2]) - 1
            name = self._table.facts.name
            if kind == "notfound":
                raise NotFoundError(name, getattr(instances[item], self._table.facts.pk_name))
            where = f" (item {item})" if len(instances) > 1 else ""
            raise _FAILURES[kind](f"{name} write refused: {field}{where}")
        return outcome[1:]

    def _arguments(self, validated: Sequence[ModelT], *, creating: bool) -> builtins.list[str]:
        """The write script's arguments for ``validated``: every value checked here, before
        anything is sent, so that the script never meets a value Redis would refuse."""
        facts = self._table.facts
        arguments: builtins.list[str] = []
        for position, instance in enumerate(validated):
            where = f"item {position}: " if len(validated) > 1 else ""
            if instance.__dict__.get(facts.pk_name) is None:
                if not creating:  # no key: no row to update
                    raise NotFoundError(facts.name, None)
                if not self._table.generates_keys:  # as SQL's NOT NULL on a primary key
                    raise ConstraintError(f"{facts.name} write refused: {where}{facts.pk_name}")
            try:
                arguments.extend(self._table.encode(instance.__dict__))
            except ValueError as exc:
                raise ValidationError(f"{where}invalid {facts.name}: {exc}") from exc
        return arguments

    def _pk_token(self, id: PrimaryKey) -> str:
        try:
            return self._table.pk_token(id)
        except ValueError as exc:
            raise ValidationError(
                f"{id!r} is not a valid {self._table.facts.name} key: {exc}"
            ) from exc

    async def get(self, id: PrimaryKey) -> ModelT | None:
        key = self._keys.document(self._pk_token(id))
        raw = await self._scope.command(self._table, "JSON.GET", key)
        return None if raw is None else self._table.decode(json.loads(raw))

    async def get_one(self, id: PrimaryKey) -> ModelT:
        found = await self.get(id)
        if found is None:
            raise NotFoundError(self._table.facts.name, id)
        return found

    async def create(self, model: ModelT) -> ModelT:
        validated = validate_for_write(self._table.facts, model)
        arguments = self._arguments([validated], creating=True)
        (token,) = await self._run("create", *arguments, instances=[validated])
        return self._with_key(validated, token)

    async def create_many(self, models: Iterable[ModelT]) -> builtins.list[ModelT]:
        validated = validate_all(self._table.facts, models)
        if not validated:
            return []
        arguments = self._arguments(validated, creating=True)
        tokens = await self._run("create", *arguments, instances=validated)
        return [
            self._with_key(instance, token)
            for instance, token in zip(validated, tokens, strict=True)
        ]

    async def update(self, model: ModelT) -> ModelT:
        (updated,) = await self.update_many([model])
        return updated

    async def update_many(self, models: Iterable[ModelT]) -> builtins.list[ModelT]:
        validated = validate_all(self._table.facts, models)
        if not validated:
            return []
        arguments = self._arguments(validated, creating=False)
        await self._run("update", *arguments, instances=validated)
        return [build_instance(self._table.facts, self._values(instance)) for instance in validated]

    async def upsert(self, model: ModelT) -> ModelT:
        validated = validate_for_write(self._table.facts, model)
        arguments = self._arguments([validated], creating=True)
        (token,) = await self._run("upsert", *arguments, instances=[validated])
        return self._with_key(validated, token)

    async def delete(self, id: PrimaryKey) -> bool:
        return bool(await self._run("delete", self._pk_token(id)))

    async def delete_many(self, ids: Iterable[PrimaryKey]) -> int:
        tokens = list(dict.fromkeys(self._pk_token(id) for id in keys_of(ids)))
        return len(await self._run("delete", *tokens)) if tokens else 0

    async def delete_where(self, *where: Where) -> int:
        # Found, then deleted by key: a row changed in between by another writer is deleted
        # as it was found (Redis has no statement that filters and deletes at once).
        rows = await self._matching(translate_strict(self._table.facts, where))
        return await self.delete_many(row[self._table.facts.pk_name] for row in rows)

    async def list(
        self,
        *where: Where,
        order_by: OrderBy = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> builtins.list[ModelT]:
        if not where and order_by is None and limit is None and not offset:
            return await self._all()
        check_window(limit, offset)
        orders = translate_order(self._table.facts, order_by)
        return await self._query(where, orders, offset=offset, limit=limit)

    async def first(self, *where: Where, order_by: OrderBy = None) -> ModelT | None:
        orders = translate_order(self._table.facts, order_by)
        rows = await self._query(where, orders, limit=1)
        return rows[0] if rows else None

    async def count(self, *where: Where) -> int:
        if not where:
            return int(await self._scope.command(self._table, "ZCARD", self._keys.ids))
        condition = translate_strict(self._table.facts, where)
        plan = self._search.plan(condition, ())
        if plan.query == NONE:
            return 0
        if plan.exact and self._keyed(condition) is None:  # counted by the index alone
            reply = await self._search_command(
                "FT.SEARCH", plan.query, "NOCONTENT", "LIMIT", 0, 0, params=plan.params
            )
            return self._total(reply)
        if self._keyed(condition) is not None:
            return len(await self._matching(condition))
        return await self._count_found(plan, condition)

    async def exists(self, *where: Where) -> bool:
        return await self.count(*where) > 0

    async def page(
        self,
        *where: Where,
        order_by: OrderBy = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[ModelT]:
        check_window(limit, 0, page=True)
        facts = self._table.facts
        orders = translate_order(facts, order_by)
        start = None
        if cursor is not None:
            start = after(orders, decode_cursor(facts, orders, cursor, self._scope.cursor_secret))
        rows = await self._query(where, orders, start, limit=limit + 1)
        return page_of(facts, orders, rows, limit, self._scope.cursor_secret)

    async def _query(
        self,
        where: Sequence[Any],
        orders: Sequence[Order],
        start: Condition | None = None,
        *,
        offset: int = 0,
        limit: int | None = None,
    ) -> builtins.list[ModelT]:
        """The rows that match, in order, from ``offset`` on, at most ``limit`` of them.

        The search index finds the candidates and, where it orders exactly as the query does,
        the window; whatever it cannot answer exactly is checked here on the candidates, so
        that a query means exactly what it means in SQL.
        """
        condition = translate_strict(self._table.facts, where)
        if start is not None:
            condition = start if condition is None else And((condition, start))
        plan = self._search.plan(condition, orders)
        if plan.query == NONE or limit == 0:
            return []
        keyed = self._keyed(condition) is not None  # the rows of given keys: read by key
        window = None if keyed else await self._window(plan, offset, limit)
        if window is not None:
            rows = window
        elif not keyed and plan.sorted_exactly and await self._ordered_exactly(plan):
            # The rows checked here, read in the index's order up to the window's end.
            rows = await self._found(plan, condition, offset=offset, limit=limit)
        else:  # every candidate, checked and ordered here
            rows = await self._matching(condition)
            sort_rows(rows, orders)
            rows = rows[offset:] if limit is None else rows[offset : offset + limit]
        facts = self._table.facts
        return [build_instance(facts, row) for row in rows]

    async def _found(
        self,
        plan: SearchPlan,
        condition: Condition | None,
        *,
        offset: int = 0,
        limit: int | None = None,
        unordered: bool = False,
    ) -> builtins.list[dict[str, Any]]:
        """The field values of the candidates that match ``condition``, read through a cursor
        in the plan's order (or the index's own), from ``offset`` on, at most ``limit``."""
        rows: builtins.list[dict[str, Any]] = []
        skip = offset

        def keep(row: dict[str, Any]) -> bool:
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

        def count(_row: dict[str, Any]) -> bool:
            nonlocal counted
            counted += 1
            return True

        await self._scan(plan, condition, count, unordered=True)
        return counted

    async def _scan(
        self,
        plan: SearchPlan,
        condition: Condition | None,
        visit: Callable[[dict[str, Any]], bool],
        *,
        unordered: bool,
    ) -> None:
        """``visit`` each candidate that matches ``condition`` (checked here where the plan is
        not exact), read through a cursor in batches, until it returns False."""
        if plan.query == NONE:
            return
        check = None if plan.exact else condition
        sort: tuple[str | int, ...] = () if unordered else (*plan.sort, "MAX", _NO_LIMIT)
        reply, cursor = await self._search_command(
            "FT.AGGREGATE",
            plan.query,
            *sort,
            *("LOAD", 1, "$", "WITHCURSOR", "COUNT", _BATCH),
            params=plan.params,
        )
        try:
            while True:
                for row in self._rows(reply):
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

    async def _window(
        self, plan: SearchPlan, offset: int, limit: int | None
    ) -> builtins.list[dict[str, Any]] | None:
        """The window in one command, where the index filters and orders exactly: it cuts the
        window and reads only its documents (with the probe, in the same round trip); None
        where it cannot."""
        if not (plan.exact and plan.sorted_exactly and limit is not None):
            return None
        if offset + limit > _WINDOW:
            return None
        window = self._search_arguments(
            "FT.AGGREGATE",
            plan.query,
            *plan.sort,
            *("LIMIT", offset, limit, "LOAD", 1, "$"),
            params=plan.params,
        )
        if plan.probe is None:
            return self._rows(await self._scope.command(self._table, *window))
        probe, reply = await self._scope.commands(self._table, self._probe(plan), window)
        return self._rows(reply) if self._total(probe) == 0 else None

    async def _ordered_exactly(self, plan: SearchPlan) -> bool:
        """Whether the index orders the rows as the plan's orders do (see `_probe`)."""
        if plan.probe is None:
            return True
        return self._total(await self._scope.command(self._table, *self._probe(plan))) == 0

    def _probe(self, plan: SearchPlan) -> tuple[str | int, ...]:
        """The count of rows whose values of the plan's order fields the index orders inexactly
        (integers beyond 2**53, which it holds as doubles): when there are any, order here."""
        assert plan.probe is not None
        return self._search_arguments("FT.SEARCH", plan.probe, "NOCONTENT", "LIMIT", 0, 0)

    async def _search_command(
        self, command: str, query: str, *arguments: str | int, params: Sequence[str] = ()
    ) -> Any:
        return await self._scope.command(
            self._table, *self._search_arguments(command, query, *arguments, params=params)
        )

    def _search_arguments(
        self, command: str, query: str, *arguments: str | int, params: Sequence[str] = ()
    ) -> tuple[str | int, ...]:
        """FT.SEARCH or FT.AGGREGATE on the model's index: complete answers only (no timeout
        that would cut them short), in the query dialect the plans are written for."""
        bound: tuple[str | int, ...] = ("PARAMS", len(params), *params) if params else ()
        return (command, self._keys.index, query, *arguments, *bound, "TIMEOUT", 0, "DIALECT", 2)

    def _rows(self, reply: Any) -> builtins.list[dict[str, Any]]:
        """The field values of the documents an FT.AGGREGATE reply LOADed as ``$``."""
        return [
            self._table.values(json.loads(result["extra_attributes"]["$"]))
            for result in self._complete(reply)["results"]
        ]

    def _total(self, reply: Any) -> int:
        return int(self._complete(reply)["total_results"])

    def _complete(self, reply: Any) -> Any:
        """``reply`` (a RESP3 map), once sure it is whole: a warning means it may not be."""
        if reply["warning"]:
            raise BackendUnavailableError(
                f"the search index of {self._table.facts.name} answered in part: "
                + "; ".join(str(warning) for warning in reply["warning"])
            )
        return reply

    async def _all(self) -> builtins.list[ModelT]:
        facts = self._table.facts
        tokens = await self._scope.command(self._table, "ZRANGE", self._keys.ids, 0, -1)
        return [build_instance(facts, row) for row in await self._documents(tokens)]

    async def _matching(self, condition: Condition | None) -> builtins.list[dict[str, Any]]:
        """The field values of the rows that match ``condition``, in no particular order."""
        keys = self._keyed(condition)
        if keys is None:
            return await self._found(self._search.plan(condition, ()), condition, unordered=True)
        rows = await self._documents(dict.fromkeys(self._pk_token(key) for key in keys))
        return [row for row in rows if condition is None or evaluate(condition, row) is True]

    def _keyed(self, condition: Condition | None) -> tuple[Any, ...] | None:
        """The primary keys ``condition`` restricts the rows to, where it names them (``id ==
        k``, ``id IN (...)``, or either within an AND); None where it does not."""
        pk = self._table.facts.pk_name
        match condition:
            case Compare(field=field, op="eq", value=value) if field == pk:
                return (value,)
            case InSet(field=field, values=values, negated=False) if field == pk:
                return tuple(value for value in values if value is not None)
            case And(items=items):
                for item in items:
                    keys = self._keyed(item)
                    if keys is not None:
                        return keys
        return None

    async def _documents(self, tokens: Iterable[str]) -> builtins.list[dict[str, Any]]:
        """The field values of the rows with these primary key tokens, in their order."""
        keys = [self._keys.document(token) for token in tokens]
        documents: builtins.list[str | None] = []
        for start in range(0, len(keys), _MGET_CHUNK):
            chunk = keys[start : start + _MGET_CHUNK]
            documents.extend(await self._scope.command(self._table, "JSON.MGET", *chunk, "$"))
        # A document deleted meanwhile (or never there) is no row.
        return [self._table.values(json.loads(raw)[0]) for raw in documents if raw is not None]

    def _values(self, validated: ModelT) -> dict[str, Any]:
        return {name: validated.__dict__.get(name) for name in self._table.facts.field_names}

    def _with_key(self, validated: ModelT, token: str) -> ModelT:
        """The stored row: the validated values, with the key the store gave it."""
        values = self._values(validated)
        if values[self._table.facts.pk_name] is None:
            values[self._table.facts.pk_name] = self._table.pk.decode(int(token))
        return build_instance(self._table.facts, values)
