"""The Redis repository: SQLModel rows as RedisJSON documents, constraints kept by one Lua script.

How a row becomes a document is `_documents`; reads and queries are `_reader`; the I/O and its
errors are `_connection`. Every write is one run of the write script (`_script`), except a batch
of over `CHUNK` rows: one run would keep every other client of the server waiting, so it is
staged in runs of `CHUNK` rows and committed in one short run (`_batch.lua`), all or nothing.
"""

from __future__ import annotations

import builtins
import contextlib
import secrets
from collections.abc import Iterable, Sequence
from typing import Any

from toolkit._model import ModelT, PrimaryKey, keys_of
from toolkit._rows import build_instance, build_many, validate_all, validate_for_write
from toolkit.errors import (
    BackendUnavailableError,
    ConflictError,
    ConstraintError,
    NotFoundError,
    ToolkitError,
    ValidationError,
)
from toolkit.query._cursor import after, check_window, decode_cursor, page_of
from toolkit.query._translate import translate_order, translate_strict
from toolkit.query._tree import And, Condition, Order, OrderBy, Page, Where
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.redis._connection import RedisScope
from toolkit.repositories.redis._documents import RedisTable, redis_table
from toolkit.repositories.redis._reader import RedisReader
from toolkit.repositories.redis._script import script_plan

_FAILURES: dict[str, type[ToolkitError]] = {
    "conflict": ConflictError,
    "constraint": ConstraintError,
    "busy": ConflictError,
}

CHUNK = 1_000
"""Rows per script run of a staged batch: a few tens of milliseconds of the server's time."""


class RedisRepository(BaseRepository[ModelT]):
    """`BaseRepository` on Redis JSON documents."""

    def __init__(self, model: type[ModelT], scope: RedisScope) -> None:
        self.model = model
        self._table: RedisTable[ModelT] = redis_table(model)
        self._scope = scope
        self._plan = script_plan(self._table.facts.table, scope.prefix)
        self._reader: RedisReader[ModelT] = RedisReader(model, scope)
        self._by_key = tuple(translate_order(self._table.facts, None))  # the default order

    async def _run(
        self,
        operation: str,
        *arguments: str,
        instances: Sequence[ModelT] = (),
        batch: str = "",
        offset: int = 0,
    ) -> builtins.list[Any]:
        """Run the write script; its reply after "ok", or the error its refusal means
        (``instances`` are the rows written, from ``offset`` on, to name the one refused)."""
        arguments = (operation, self._plan, batch, *arguments)
        outcome = await self._scope.run_script(self._table, arguments)
        if outcome[0] != "ok":
            kind, field, item = outcome[0], outcome[1], offset + int(outcome[2]) - 1
            name = self._table.facts.name
            if kind == "expired":
                raise BackendUnavailableError(
                    f"{name} batch {batch} was left unfinished too long and rolled back"
                )
            if kind == "notfound":
                raise NotFoundError(name, getattr(instances[item], self._table.facts.pk_name))
            where = f" (item {item})" if len(instances) > 1 else ""
            busy = ": the row is being written by a batch in progress" if kind == "busy" else ""
            raise _FAILURES[kind](f"{name} write refused: {field}{where}{busy}")
        return outcome[1:]

    async def _write(
        self,
        operation: str,
        arguments: Sequence[str],
        arity: int,
        instances: Sequence[ModelT] = (),
    ) -> builtins.list[str]:
        """One write of rows given as ``arity`` script arguments each: one script run, or a
        staged batch of runs of `CHUNK` rows where there are more."""
        if len(arguments) <= CHUNK * arity:
            return [
                str(token) for token in await self._run(operation, *arguments, instances=instances)
            ]
        await self._finish_expired()
        batch = secrets.token_hex(8)
        await self._run("begin", batch=batch)
        tokens: builtins.list[str] = []
        try:
            for start in range(0, len(arguments), CHUNK * arity):
                chunk = arguments[start : start + CHUNK * arity]
                done = await self._run(
                    "stage_" + operation,
                    *chunk,
                    instances=instances,
                    batch=batch,
                    offset=start // arity,
                )
                tokens.extend(str(token) for token in done)
            await self._run("commit", batch=batch)
        except BaseException:
            # Refused, cut off or cancelled: rolled back here or, if that fails too, by the
            # next batch or reader once the lease runs out. No reader sees any of it meanwhile.
            with contextlib.suppress(Exception):
                await self._finish(batch)
            raise
        # Committed: what is left (rows deleted for good, old versions dropped) changes
        # nothing a reader sees; if it is cut off, the next batch finishes it.
        with contextlib.suppress(ToolkitError):
            await self._finish(batch)
        return tokens

    async def _finish(self, batch: str) -> None:
        """The work a staged batch leaves once it has committed or failed, in short runs."""
        while (await self._run("finish", str(CHUNK), batch=batch))[0] != "done":
            pass

    async def _finish_expired(self) -> None:
        """Finish the batches whose clients stopped part-way (their lease ran out)."""
        for batch in await self._run("expired"):
            await self._finish(str(batch))

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

    async def get(self, id: PrimaryKey) -> ModelT | None:
        values = await self._reader.document(self._table.pk_token(id))
        return None if values is None else build_instance(self._table.facts, values)

    async def get_one(self, id: PrimaryKey) -> ModelT:
        found = await self.get(id)
        if found is None:
            raise NotFoundError(self._table.facts.name, id)
        return found

    async def create(self, model: ModelT) -> ModelT:
        validated = validate_for_write(self._table.facts, model)
        arguments = self._arguments([validated], creating=True)
        (token,) = await self._run("create", *arguments, instances=[validated])
        return self._with_key(validated, str(token))

    async def create_many(self, models: Iterable[ModelT]) -> builtins.list[ModelT]:
        validated = validate_all(self._table.facts, models)
        if not validated:
            return []
        arguments = self._arguments(validated, creating=True)
        tokens = await self._write("create", arguments, 3, instances=validated)
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
        await self._write("update", arguments, 3, instances=validated)
        return [build_instance(self._table.facts, self._values(instance)) for instance in validated]

    async def upsert(self, model: ModelT) -> ModelT:
        validated = validate_for_write(self._table.facts, model)
        arguments = self._arguments([validated], creating=True)
        (token,) = await self._run("upsert", *arguments, instances=[validated])
        return self._with_key(validated, str(token))

    async def delete(self, id: PrimaryKey) -> bool:
        return bool(await self._run("delete", self._table.pk_token(id)))

    async def delete_many(self, ids: Iterable[PrimaryKey]) -> int:
        tokens = list(dict.fromkeys(self._table.pk_token(id) for id in keys_of(ids)))
        return len(await self._write("delete", tokens, 1)) if tokens else 0

    async def delete_where(self, *where: Where) -> int:
        # Found, then deleted by key: a row changed in between by another writer is deleted
        # as it was found (Redis has no statement that filters and deletes at once).
        rows = await self._reader.matching(translate_strict(self._table.facts, where))
        return await self.delete_many(row[self._table.facts.pk_name] for row in rows)

    async def list(
        self,
        *where: Where,
        order_by: OrderBy = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> builtins.list[ModelT]:
        if not where and order_by is None and limit is None and not offset:
            return build_many(self._build, await self._reader.every())
        check_window(limit, offset)
        orders = self._by_key if order_by is None else translate_order(self._table.facts, order_by)
        return await self._query(where, orders, offset=offset, limit=limit)

    async def first(self, *where: Where, order_by: OrderBy = None) -> ModelT | None:
        orders = self._by_key if order_by is None else translate_order(self._table.facts, order_by)
        condition = translate_strict(self._table.facts, where)
        rows = await self._reader.rows(condition, orders, limit=1)
        return build_instance(self._table.facts, rows[0]) if rows else None

    async def count(self, *where: Where) -> int:
        return await self._reader.count(translate_strict(self._table.facts, where))

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
        condition = translate_strict(self._table.facts, where)
        if start is not None:
            condition = start if condition is None else And((condition, start))
        rows = await self._reader.rows(condition, orders, offset=offset, limit=limit)
        return build_many(self._build, rows)

    def _build(self, values: dict[str, Any]) -> ModelT:
        return build_instance(self._table.facts, values)

    def _values(self, validated: ModelT) -> dict[str, Any]:
        return {name: validated.__dict__.get(name) for name in self._table.facts.field_names}

    def _with_key(self, validated: ModelT, token: str) -> ModelT:
        """The stored row: the validated values, with the key the store gave it."""
        values = self._values(validated)
        if values[self._table.facts.pk_name] is None:
            values[self._table.facts.pk_name] = self._table.pk.decode(int(token))
        return build_instance(self._table.facts, values)
