"""The Redis repository: SQLModel rows as RedisJSON documents, constraints kept by one Lua script.

How a row becomes a document is `_documents`; reads and queries are `_reader`; the I/O and its
errors are `_connection`. Every write is one run of the write script (`_writer`), except a
batch of over `CHUNK` rows, staged in runs of `CHUNK` rows. Inside ``provider.transaction()``
the writes are kept by the block's `Unit` (`_unit`) and applied by one run at its end.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from toolkit._model import ModelT, PrimaryKey, keys_of
from toolkit._relations import Load
from toolkit._rows import (
    build_instance,
    build_many,
    gc_paused,
    merge_patch,
    patch_changes,
    validate_all,
    validate_for_write,
)
from toolkit._versioned import checked_version
from toolkit.errors import ConflictError, NotFoundError, StaleVersionError, ValidationError
from toolkit.query._cursor import after, check_window, decode_cursor, page_of
from toolkit.query._evaluate import sort_rows
from toolkit.query._translate import translate_order, translate_strict
from toolkit.query._tree import And, Condition, Order, OrderBy, Page, Where
from toolkit.repositories._related import load_related
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.redis._connection import RedisScope
from toolkit.repositories.redis._documents import RedisTable, redis_table
from toolkit.repositories.redis._keys import redis_keys
from toolkit.repositories.redis._lookups import Row
from toolkit.repositories.redis._reader import RedisReader
from toolkit.repositories.redis._unit import Operation, ReadChanged, Unit, delete_reach
from toolkit.repositories.redis._writer import RedisWriter
from toolkit.repositories.redis._writes import encoded, stored_rows

CHUNK = 1_000
"""Rows per script run of a staged batch: a few tens of milliseconds of the server's time."""

PATCH_TRIES = 200
"""Reads and writes a `patch` tries while others keep changing the row in between."""

Prepared = tuple[list[Row], list[int | None], list[str]]
"""Rows to write, the versions they must be at, and the write script's arguments for them."""


class RedisRepository(BaseRepository[ModelT]):
    """`BaseRepository` on Redis JSON documents."""

    def __init__(self, model: type[ModelT], scope: RedisScope) -> None:
        self.model = model
        self._table: RedisTable[ModelT] = redis_table(model)
        self._scope = scope
        self._keys = redis_keys(scope.prefix, self._table.table)
        self._reader: RedisReader[ModelT] = RedisReader(model, scope)
        self._writer: RedisWriter[ModelT] = RedisWriter(self._table, scope, self._reader)
        self._plan = self._writer.plan
        self._reach = delete_reach(self._plan)
        self._by_key = tuple(translate_order(self._table.facts, None))  # the default order

    # --- reads -------------------------------------------------------------------------------

    @RedisWriter.taking_turns
    async def get(self, id: PrimaryKey, *, load: Load = ()) -> ModelT | None:
        token = self._table.pk_token(id)
        unit = self._scope.unit()
        if unit is None:
            values = await self._reader.document(token)
        else:
            (values,) = await self._writer.seen(unit, [token])
        found = None if values is None else build_instance(self._table.facts, values)
        if load:  # checked even when there is no row, as on SQL
            await self._load([] if found is None else [found], load)
        return found

    async def get_one(self, id: PrimaryKey, *, load: Load = ()) -> ModelT:
        found = await self.get(id, load=load)
        if found is None:
            raise NotFoundError(self._table.facts.name, id)
        return found

    @RedisWriter.taking_turns
    async def list(
        self,
        *where: Where,
        order_by: OrderBy = None,
        limit: int | None = None,
        offset: int = 0,
        load: Load = (),
    ) -> builtins.list[ModelT]:
        if not where and order_by is None and limit is None and not offset:
            await self._writer.in_unit(None)  # in a block: refused after writes to the table
            found = build_many(self._build, await self._reader.every())
        else:
            check_window(limit, offset)
            orders = self._orders(order_by)
            found = await self._query(where, orders, offset=offset, limit=limit)
        if load:
            await self._load(found, load)
        return found

    @RedisWriter.taking_turns
    async def first(
        self, *where: Where, order_by: OrderBy = None, load: Load = ()
    ) -> ModelT | None:
        found = await self._query(where, self._orders(order_by), limit=1)
        if load:  # checked even when there is no row, as on SQL
            await self._load(found, load)
        return found[0] if found else None

    @RedisWriter.taking_turns
    async def count(self, *where: Where) -> int:
        condition = translate_strict(self._table.facts, where)
        rows = await self._writer.in_unit(condition)
        return await self._reader.count(condition) if rows is None else len(rows)

    async def exists(self, *where: Where) -> bool:
        return await self.count(*where) > 0

    @RedisWriter.taking_turns
    async def page(
        self,
        *where: Where,
        order_by: OrderBy = None,
        limit: int = 50,
        cursor: str | None = None,
        load: Load = (),
    ) -> Page[ModelT]:
        check_window(limit, 0, page=True)
        facts = self._table.facts
        orders = translate_order(facts, order_by)
        start = None
        if cursor is not None:
            start = after(orders, decode_cursor(facts, orders, cursor, self._scope.cursor_secret))
        rows = await self._query(where, orders, start, limit=limit + 1)
        found = page_of(facts, orders, rows, limit, self._scope.cursor_secret)
        if load:
            await self._load(found.items, load)
        return found

    def _orders(self, order_by: OrderBy) -> Sequence[Order]:
        return self._by_key if order_by is None else translate_order(self._table.facts, order_by)

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
        rows = await self._writer.in_unit(condition)
        if rows is None:
            rows = await self._reader.rows(condition, orders, offset=offset, limit=limit)
        else:
            sort_rows(rows, orders)
            rows = rows[offset:] if limit is None else rows[offset : offset + limit]
        return build_many(self._build, rows)

    async def _load(self, instances: Sequence[ModelT], load: Load) -> None:
        await load_related(self._table.facts, instances, load, self._repository_of)

    def _repository_of(self, model: type[Any]) -> BaseRepository[Any]:
        """The repository of ``model`` on the same scope (made once per scope)."""
        found: BaseRepository[Any] | None = self._scope.repositories.get(model)
        if found is None:
            found = self._scope.repositories[model] = RedisRepository(model, self._scope)
        return found

    # --- writes ------------------------------------------------------------------------------

    @RedisWriter.taking_turns
    async def create(self, model: ModelT) -> ModelT:
        (created,) = await self._create(
            *self._prepared([validate_for_write(self._table.facts, model)])
        )
        return created

    @RedisWriter.taking_turns
    async def create_many(self, models: Iterable[ModelT]) -> builtins.list[ModelT]:
        given = builtins.list(models)
        with gc_paused(len(given)):  # no collection between validating and encoding
            rows, versions, arguments = self._prepared(validate_all(self._table.facts, given))
        return await self._create(rows, versions, arguments) if rows else []

    def _prepared(self, validated: Sequence[ModelT]) -> Prepared:
        """The rows to create for ``validated`` (copies checked for writing, let go of once
        read), the versions they must be at, and the write script's arguments for them."""
        rows, versions = stored_rows(self._table, validated, "create")
        return rows, versions, encoded(self._table, rows, versions, creating=True)

    async def _create(
        self, rows: Sequence[Row], versions: Sequence[int | None], arguments: Sequence[str]
    ) -> builtins.list[ModelT]:
        pk = self._table.facts.pk_name
        unit = self._scope.unit()
        if unit is not None:
            # Keys generated now, so that later calls of the block can refer to the rows.
            unkeyed = [row for row in rows if row[pk] is None]
            if unkeyed:
                # Never a key the block writes already, nor one this call gives explicitly.
                given = [self._doc(token) for token in arguments[::3] if token]
                taken = [key for key in unit.written if key.startswith(self._doc(""))]
                count = str(len(unkeyed))
                reserved = await self._writer.run("reserve", count, *given, *taken)
                for row, token in zip(unkeyed, reserved, strict=True):
                    row[pk] = self._table.pk.decode(int(token))
                arguments = encoded(self._table, rows, versions, creating=True)
            self._buffer(unit, "create", arguments, rows, versions)
            return build_many(self._build, rows)
        created: builtins.list[ModelT] = []

        def written(first: int, tokens: Sequence[str]) -> None:
            # Built as each run's reply comes, while the server runs the next ones.
            part = rows[first : first + len(tokens)]
            for row, token in zip(part, tokens, strict=True):
                if row[pk] is None:
                    row[pk] = self._table.pk.decode(int(token))
            created.extend(build_many(self._build, part))

        ids = [row[pk] for row in rows]
        await self._writer.write("create", arguments, 3, ids, versions, chunk=CHUNK, each=written)
        return created

    async def update(self, model: ModelT) -> ModelT:
        (updated,) = await self.update_many([model])
        return updated

    @RedisWriter.taking_turns
    async def update_many(self, models: Iterable[ModelT]) -> builtins.list[ModelT]:
        validated = validate_all(self._table.facts, models)
        if not validated:
            return []
        unit = self._scope.unit()
        if unit is not None:
            return self._update_in(unit, validated)
        rows, versions = stored_rows(self._table, validated, "update")
        arguments = encoded(self._table, rows, versions, creating=False)
        ids = [row[self._table.facts.pk_name] for row in rows]
        await self._writer.write("update", arguments, 3, ids, versions, chunk=CHUNK)
        return [self._build(row) for row in rows]

    def _update_in(self, unit: Unit, validated: Sequence[ModelT]) -> builtins.list[ModelT]:
        """``validated`` updated by ``unit``'s block: kept for its end."""
        rows, versions = stored_rows(self._table, validated, "update")
        arguments = encoded(self._table, rows, versions, creating=False)
        self._buffer(unit, "update", arguments, rows, versions)
        return [self._build(row) for row in rows]

    def _buffer(
        self,
        unit: Unit,
        name: str,
        arguments: Sequence[str],
        rows: Sequence[Row],
        versions: Sequence[int | None],
    ) -> None:
        """Keep the write of ``rows`` (given as script ``arguments``, three per row)."""
        ids = [row[self._table.facts.pk_name] for row in rows]
        tokens = arguments[::3]
        written = {self._doc(token): dict(row) for token, row in zip(tokens, rows, strict=True)}
        operation = Operation(self._table, name, self._writer.row_plan, arguments, ids, versions)
        unit.add(operation, written)

    @RedisWriter.taking_turns
    async def upsert(self, model: ModelT) -> ModelT:
        facts = self._table.facts
        validated = validate_for_write(facts, model)
        key = validated.__dict__.get(facts.pk_name)
        unit = self._scope.unit()
        if unit is not None:
            if key is not None and (await self._writer.seen(unit, [self._table.pk_token(key)]))[0]:
                return self._update_in(unit, [validated])[0]
            return (await self._create(*self._prepared([validated])))[0]
        rows, versions = stored_rows(self._table, [validated], "upsert")
        arguments = encoded(self._table, rows, versions, creating=True)
        token, *how = await self._writer.run("upsert", *arguments, ids=[key], versions=versions)
        (row,) = rows
        if row[facts.pk_name] is None:
            row[facts.pk_name] = self._table.pk.decode(int(token))
        if facts.versioned and how != ["updated"]:
            row["version"] = 1  # created, whatever the copy said
        return self._build(row)

    @RedisWriter.taking_turns
    async def patch(self, id: PrimaryKey, changes: Mapping[str, object] | BaseModel) -> ModelT:
        facts = self._table.facts
        fields, expected = patch_changes(facts, id, changes)
        token = self._table.pk_token(id)
        unit = self._scope.unit()
        if unit is not None:
            return await self._patch_in(unit, id, token, fields, expected)
        # Read, merged and written as a unit of its own: written only if the row is still as
        # read, else read again (a write of other fields in between is kept).
        for _ in range(PATCH_TRIES):
            unit = Unit()
            patched = await self._patch_in(unit, id, token, fields, expected)
            try:
                await self._scope.commit(unit)
            except ReadChanged:
                continue
            return patched
        raise ConflictError(
            f"{facts.name} with id {id!r} was changed by others {PATCH_TRIES} times while it "
            "was being patched; nothing was written",
            model=facts.name,
        )

    async def _patch_in(
        self, unit: Unit, id: PrimaryKey, token: str, fields: dict[str, object], expected: Any
    ) -> ModelT:
        facts = self._table.facts
        (current,) = await self._writer.seen(unit, [token])
        if current is None:
            raise NotFoundError(facts.name, id)
        if expected is not None and current["version"] != expected:
            raise StaleVersionError(facts.name, id, expected, current["version"])
        if not fields:  # nothing to change: nothing written, the version kept, as on SQL
            return build_instance(facts, current)
        merged = merge_patch(facts, build_instance(facts, current), fields)
        return self._update_in(unit, [merged])[0]

    @RedisWriter.taking_turns
    async def delete(self, id: PrimaryKey, *, version: int | None = None) -> bool:
        facts = self._table.facts
        if version is not None:
            if not facts.versioned:
                raise ValidationError(
                    f"delete(version=...) is for Versioned models; {facts.name} is not one"
                )
            checked_version(facts.name, version)
        token = self._table.pk_token(id)
        at = () if version is None else (str(version),)
        name = "delete" if version is None else "delete_at"
        unit = self._scope.unit()
        if unit is None:
            return bool(await self._writer.run(name, token, *at, ids=[id], versions=[version]))
        (current,) = await self._writer.seen(unit, [token])
        if current is None:
            return False
        if version is not None and current["version"] != version:
            raise StaleVersionError(facts.name, id, version, current["version"])
        operation = Operation(self._table, name, self._plan, (token, *at), [id], [version])
        unit.add(operation, {self._doc(token): None}, self._reach)
        return True

    @RedisWriter.taking_turns
    async def delete_many(self, ids: Iterable[PrimaryKey]) -> int:
        tokens = builtins.list(dict.fromkeys(self._table.pk_token(id) for id in keys_of(ids)))
        if not tokens:
            return 0
        unit = self._scope.unit()
        if unit is None:
            return len(await self._writer.write("delete", tokens, 1, chunk=CHUNK))
        rows = await self._writer.seen(unit, tokens)
        found = [token for token, row in zip(tokens, rows, strict=True) if row is not None]
        if found:
            operation = Operation(self._table, "delete", self._plan, found)
            unit.add(operation, {self._doc(token): None for token in found}, self._reach)
        return len(found)

    @RedisWriter.taking_turns
    async def delete_where(self, *where: Where) -> int:
        # Found, then deleted by key: a row changed in between by another writer is deleted
        # as it was found (Redis has no statement that filters and deletes at once).
        condition = translate_strict(self._table.facts, where)
        rows = await self._writer.in_unit(condition)
        if rows is None:
            rows = await self._reader.matching(condition)
        return await self.delete_many(row[self._table.facts.pk_name] for row in rows)

    async def _run(
        self, operation: str, *arguments: str, instances: Sequence[ModelT] = (), batch: str = ""
    ) -> builtins.list[Any]:
        """A run of the write script (tests drive a staged batch's steps with it)."""
        ids = [item.__dict__.get(self._table.facts.pk_name) for item in instances]
        return await self._writer.run(operation, *arguments, ids=ids, batch=batch)

    def _arguments(self, validated: Sequence[ModelT], *, creating: bool) -> builtins.list[str]:
        """The write script's arguments for ``validated`` rows, created or updated."""
        rows, versions = stored_rows(self._table, validated, "create" if creating else "update")
        return encoded(self._table, rows, versions, creating=creating)

    def _build(self, values: dict[str, Any]) -> ModelT:
        return build_instance(self._table.facts, values)

    def _doc(self, token: str) -> str:
        return self._keys.document(token)
