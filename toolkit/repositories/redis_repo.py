"""The Redis repository: SQLModel rows as RedisJSON documents, constraints kept by one Lua script.

What a document looks like and how the constraints are kept is `toolkit.redis_schema`; this
module does the I/O: one client per event loop, a check of the server's modules and the search
index on first use, then one round trip per call (a script, a JSON.GET, or a ZRANGE and MGETs).
"""

from __future__ import annotations

import asyncio
import builtins
import json
from collections.abc import Iterable, Sequence
from typing import Any

# Aliased, so that the generated sync twin's imports of the same names replace these cleanly.
from aredis_om import Field as AsyncOmField
from aredis_om import JsonModel as AsyncOmJsonModel
from redis.asyncio import BlockingConnectionPool as AsyncBlockingConnectionPool
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from toolkit.config import Settings
from toolkit.errors import (
    BackendUnavailableError,
    ConflictError,
    ConstraintError,
    NotFoundError,
    ToolkitError,
    ValidationError,
)
from toolkit.lifetimes import PerLoop
from toolkit.query import (
    Condition,
    Order,
    OrderBy,
    Page,
    Where,
    after,
    check_window,
    decode_cursor,
    evaluate,
    page_of,
    sort_rows,
    translate_order,
    translate_strict,
)
from toolkit.redis_schema import (
    RedisTable,
    index_definition,
    redis_location,
    redis_table,
    script_source,
    validate_redis_url,
)
from toolkit.repositories.base import BaseRepository
from toolkit.schema import (
    ModelT,
    PrimaryKey,
    build_instance,
    keys_of,
    validate_all,
    validate_for_write,
)

_REQUIRED_MODULES = {"rejson": "RedisJSON", "search": "RediSearch"}
_MGET_CHUNK = 1_000
_FAILURES: dict[str, type[ToolkitError]] = {
    "conflict": ConflictError,
    "constraint": ConstraintError,
}


class RedisClient:
    """A Redis client of one event loop, and what it has checked on the server."""

    def __init__(self, settings: Settings) -> None:
        url = validate_redis_url(settings.redis_url)
        self.location = redis_location(url)
        self.redis: AsyncRedis[Any] = AsyncRedis(
            connection_pool=AsyncBlockingConnectionPool.from_url(
                url,
                max_connections=max(1, settings.pool_size + settings.max_overflow),
                timeout=settings.pool_timeout,
                socket_connect_timeout=settings.connect_timeout,
                socket_timeout=settings.command_timeout,
                retry=AsyncRetry(NoBackoff(), 0),  # fail at once; redis-py would retry
                decode_responses=True,
            )
        )
        self.script = self.redis.register_script(script_source())
        self.auto_create = settings.auto_create
        self.modules_checked = False
        self.indexes: set[str] = set()
        self.lock = asyncio.Lock()

    async def command(self, *arguments: str | int) -> Any:
        """Run one Redis command; its decoded reply."""
        # redis-om requires types-redis, whose redis 4 stubs leave the async form untyped.
        execute: Any = self.redis.execute_command
        return await execute(*arguments)

    async def close(self) -> None:
        await self.redis.connection_pool.disconnect()


async def _close(client: RedisClient) -> None:
    await client.close()


class RedisClients:
    """The Redis clients of every event loop, closed when the loop shuts down."""

    def __init__(self) -> None:
        self._clients = PerLoop(_close)

    async def get(self, settings: Settings) -> RedisClient:
        # What the client is made of; the key prefix is not: one client serves every prefix.
        key = (
            settings.redis_url,
            settings.pool_size + settings.max_overflow,
            settings.pool_timeout,
            settings.connect_timeout,
            settings.command_timeout,
            settings.auto_create,
        )
        return await self._clients.get(key, lambda: RedisClient(settings))

    async def dispose(self) -> None:
        await self._clients.dispose()


class RedisScope:
    """A provider's use of one client under one key prefix."""

    def __init__(self, client: RedisClient, prefix: str, cursor_secret: bytes) -> None:
        self._client = client
        self.prefix = prefix
        self.cursor_secret = cursor_secret

    async def run_script(self, described: RedisTable[Any], arguments: Sequence[str]) -> list[str]:
        """Run the write script for ``described``; its reply as strings."""
        try:
            await self.ready(described)
            reply = await self._client.script(keys=[], args=list(arguments))
        except (RedisError, OSError) as exc:
            raise self.unavailable(exc) from exc
        return [str(part) for part in reply]

    def unavailable(self, exc: BaseException) -> ToolkitError:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return BackendUnavailableError(f"{self._client.location} is unavailable: {reason}")

    async def ready(self, described: RedisTable[Any]) -> RedisClient:
        """The client, once the server has the modules and ``described`` has its index."""
        client = self._client
        index = described.index_name(self.prefix)
        if client.modules_checked and index in client.indexes:
            return client
        async with client.lock:
            if not client.modules_checked:
                await self._check_modules()
                client.modules_checked = True
            if index not in client.indexes:
                await self._ensure_index(described)
                client.indexes.add(index)
        return client

    async def _check_modules(self) -> None:
        reply = await self._client.command("MODULE", "LIST")
        names = {_module_name(entry).lower() for entry in reply}
        missing = [label for name, label in _REQUIRED_MODULES.items() if name not in names]
        if missing:
            raise BackendUnavailableError(
                f"{self._client.location} lacks {' and '.join(missing)}: the Redis backend "
                "needs the JSON and Search modules (Redis 8, or Redis Stack 7.2+)"
            )

    async def _ensure_index(self, described: RedisTable[Any]) -> None:
        client = self._client
        name = described.index_name(self.prefix)
        arguments, digest = index_definition(
            described.info.model, self.prefix, AsyncOmJsonModel, AsyncOmField
        )
        exists = await self._index_exists(name)
        if exists and await client.command("GET", described.index_hash_key(self.prefix)) == digest:
            return
        if not self._client.auto_create:
            state = "is out of date" if exists else "is missing"
            raise BackendUnavailableError(
                f"{self._client.location}: search index {name} {state}, and "
                "STORAGE_AUTO_CREATE is off"
            )
        if exists:
            await client.command("FT.DROPINDEX", name)  # keeps the documents
        try:
            await client.command("FT.CREATE", name, *arguments)
        except ResponseError as exc:
            if "already exists" not in str(exc).lower():
                raise
        await client.command("SET", described.index_hash_key(self.prefix), digest)

    async def _index_exists(self, name: str) -> bool:
        try:
            await self._client.command("FT.INFO", name)
        except ResponseError as exc:
            if "unknown index" in str(exc).lower() or "no such index" in str(exc).lower():
                return False
            raise
        return True


def _module_name(entry: Any) -> str:
    if isinstance(entry, dict):
        return str(entry.get("name", ""))
    pairs = list(entry)
    for position in range(0, len(pairs) - 1, 2):
        if str(pairs[position]) == "name":
            return str(pairs[position + 1])
    return ""


class RedisRepository(BaseRepository[ModelT]):
    """`BaseRepository` on Redis JSON documents."""

    def __init__(self, model: type[ModelT], scope: RedisScope) -> None:
        self.model = model
        self._table: RedisTable[ModelT] = redis_table(model)
        self._scope = scope
        self._plan = self._table.plan(scope.prefix)

    async def _run(
        self, operation: str, *arguments: str, models: Sequence[ModelT] = ()
    ) -> builtins.list[str]:
        outcome = await self._scope.run_script(self._table, [operation, self._plan, *arguments])
        if outcome[0] != "ok":
            kind, field, item = outcome[0], outcome[1], int(outcome[2]) - 1
            name = self._table.info.name
            if kind == "notfound":
                raise NotFoundError(name, getattr(models[item], self._table.info.pk_name))
            where = f" (item {item})" if len(models) > 1 else ""
            raise _FAILURES[kind](f"{name} write refused: {field}{where}")
        return outcome[1:]

    def _encode(self, validated: ModelT) -> tuple[str, str, str]:
        try:
            return self._table.encode(validated.__dict__)
        except ValueError as exc:
            raise ValidationError(f"invalid {self._table.info.name}: {exc}") from exc

    async def get(self, id: PrimaryKey) -> ModelT | None:
        key = self._table.doc_key(self._scope.prefix, self._table.pk_token(id))
        try:
            client = await self._scope.ready(self._table)
            raw = await client.command("JSON.GET", key)
        except (RedisError, OSError) as exc:
            raise self._scope.unavailable(exc) from exc
        return None if raw is None else self._table.decode(json.loads(raw))

    async def get_one(self, id: PrimaryKey) -> ModelT:
        found = await self.get(id)
        if found is None:
            raise NotFoundError(self._table.info.name, id)
        return found

    async def create(self, model: ModelT) -> ModelT:
        validated = validate_for_write(self._table.info, model)
        (token,) = await self._run("create", *self._encode(validated), models=[validated])
        return self._with_key(validated, token)

    async def create_many(self, models: Iterable[ModelT]) -> builtins.list[ModelT]:
        validated = validate_all(self._table.info, models)
        if not validated:
            return []
        arguments: builtins.list[str] = []
        for model in validated:
            arguments.extend(self._encode(model))
        tokens = await self._run("create", *arguments, models=validated)
        return [
            self._with_key(model, token) for model, token in zip(validated, tokens, strict=True)
        ]

    async def update(self, model: ModelT) -> ModelT:
        (updated,) = await self.update_many([model])
        return updated

    async def update_many(self, models: Iterable[ModelT]) -> builtins.list[ModelT]:
        validated = validate_all(self._table.info, models)
        if not validated:
            return []
        arguments: builtins.list[str] = []
        for model in validated:
            token, document, keys = self._encode(model)
            if token == "":  # no key: no row to update
                raise NotFoundError(self._table.info.name, None)
            arguments.extend((token, document, keys))
        await self._run("update", *arguments, models=validated)
        return [build_instance(self._table.info, self._values(model)) for model in validated]

    async def upsert(self, model: ModelT) -> ModelT:
        validated = validate_for_write(self._table.info, model)
        (token,) = await self._run("upsert", *self._encode(validated), models=[validated])
        return self._with_key(validated, token)

    async def delete(self, id: PrimaryKey) -> bool:
        return bool(await self._run("delete", self._table.pk_token(id)))

    async def delete_many(self, ids: Iterable[PrimaryKey]) -> int:
        tokens = list(dict.fromkeys(self._table.pk_token(id) for id in keys_of(ids)))
        return len(await self._run("delete", *tokens)) if tokens else 0

    async def delete_where(self, *where: Where) -> int:
        # Found, then deleted by key: a row changed in between by another writer is deleted
        # as it was found (Redis has no statement that filters and deletes at once).
        rows = await self._matching(where)
        return await self.delete_many(row[self._table.info.pk_name] for row in rows)

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
        orders = translate_order(self._table.info, order_by)
        end = None if limit is None else offset + limit
        return await self._query(where, orders, window=slice(offset, end))

    async def first(self, *where: Where, order_by: OrderBy = None) -> ModelT | None:
        orders = translate_order(self._table.info, order_by)
        rows = await self._query(where, orders, window=slice(0, 1))
        return rows[0] if rows else None

    async def count(self, *where: Where) -> int:
        if not where:
            try:
                client = await self._scope.ready(self._table)
                total = await client.command("ZCARD", self._table.ids_key(self._scope.prefix))
            except (RedisError, OSError) as exc:
                raise self._scope.unavailable(exc) from exc
            return int(total)
        return len(await self._matching(where))

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
        info = self._table.info
        orders = translate_order(info, order_by)
        start = None
        if cursor is not None:
            start = after(orders, decode_cursor(info, orders, cursor, self._scope.cursor_secret))
        rows = await self._query(where, orders, start, window=slice(0, limit + 1))
        return page_of(info, orders, rows, limit, self._scope.cursor_secret)

    async def _query(
        self,
        where: Sequence[Any],
        orders: Sequence[Order],
        start: Condition | None = None,
        window: slice | None = None,
    ) -> builtins.list[ModelT]:
        """The rows that match, in order: every document is read and the conditions evaluated
        here, so that they mean exactly what they mean in SQL."""
        rows = await self._matching(where, start)
        sort_rows(rows, orders)
        if window is not None:
            rows = rows[window]
        info = self._table.info
        return [build_instance(info, row) for row in rows]

    async def _matching(
        self, where: Sequence[Any], start: Condition | None = None
    ) -> builtins.list[dict[str, Any]]:
        """The field values of the rows that match, in primary-key order."""
        condition = translate_strict(self._table.info, where)
        rows = await self._documents()
        for test in (condition, start):
            if test is not None:
                rows = [row for row in rows if evaluate(test, row) is True]
        return rows

    async def _all(self) -> builtins.list[ModelT]:
        info = self._table.info
        return [build_instance(info, row) for row in await self._documents()]

    async def _documents(self) -> builtins.list[dict[str, Any]]:
        """The field values of every row, in primary-key order."""
        try:
            client = await self._scope.ready(self._table)
            tokens = await client.command("ZRANGE", self._table.ids_key(self._scope.prefix), 0, -1)
            documents: builtins.list[str | None] = []
            for start in range(0, len(tokens), _MGET_CHUNK):
                keys = [
                    self._table.doc_key(self._scope.prefix, t)
                    for t in tokens[start : start + _MGET_CHUNK]
                ]
                documents.extend(await client.command("JSON.MGET", *keys, "$"))
        except (RedisError, OSError) as exc:
            raise self._scope.unavailable(exc) from exc
        # A document deleted between the two reads is gone: skip it.
        return [self._table.values(json.loads(raw)[0]) for raw in documents if raw is not None]

    def _values(self, validated: ModelT) -> dict[str, Any]:
        return {name: validated.__dict__.get(name) for name in self._table.info.field_names}

    def _with_key(self, validated: ModelT, token: str) -> ModelT:
        """The stored row: the validated values, with the key the store gave it."""
        values = self._values(validated)
        if values[self._table.info.pk_name] is None:
            values[self._table.info.pk_name] = self._table.pk.decode(int(token))
        return build_instance(self._table.info, values)
