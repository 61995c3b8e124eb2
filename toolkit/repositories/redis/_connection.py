"""Redis clients and a provider's use of one: the server check, the search index, the error funnel.

A client is made on first use (async code: one per event loop, closed when the loop shuts down;
sync code: one per process) by `toolkit._lifetimes`. Before a model's first command, the scope
checks once that the server has the JSON and Search modules and that the model's search index
exists and is current. Every command goes through `RedisScope.command`, `atomic` or
`run_script`, which turn redis-py's errors into `BackendUnavailableError`.

A scope also opens units of work (`transaction()`). A repository's calls take their turn in
the block they are part of (`taking_turns`), and ask `RedisScope.unit` for its unit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextvars import ContextVar
from typing import Any

from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError, ResponseError

from toolkit._lifetimes import PerLoop
from toolkit.config import Settings
from toolkit.errors import BackendUnavailableError
from toolkit.repositories.redis._acompat import APool, ahandshake, asend_packed
from toolkit.repositories.redis._documents import RedisTable
from toolkit.repositories.redis._indexes import check_modules, ensure_index
from toolkit.repositories.redis._keys import redis_keys
from toolkit.repositories.redis._script import Command, ScriptName, packed, scripts
from toolkit.repositories.redis._unit import Level, Unit
from toolkit.repositories.redis._url import RedisUrl

_LEVELS: ContextVar[tuple[Level, ...]] = ContextVar("toolkit_redis_levels", default=())
"""The levels (blocks, nested blocks) the running code is inside: the code of a block, and the
tasks it starts (they copy its context); not other tasks or threads."""
_HELD: ContextVar[tuple[Unit, ...]] = ContextVar("toolkit_redis_held", default=())
"""The units whose turn the running call holds (the calls it makes run in it at once)."""

_MULTI = b"*1\r\n$5\r\nMULTI\r\n"
_EXEC = b"*1\r\n$4\r\nEXEC\r\n"


class RedisClient:
    """A Redis client, and what it has checked on the server."""

    def __init__(self, settings: Settings) -> None:
        url = RedisUrl.parse(settings.redis_url.get_secret_value())
        self.location = url.location
        self.redis: AsyncRedis[Any] = AsyncRedis(
            connection_pool=APool.from_url(
                url.url,
                max_connections=max(1, settings.pool_size + settings.max_overflow),
                timeout=settings.pool_timeout,
                retry=AsyncRetry(NoBackoff(), 0),  # fail at once; redis-py would retry
                # Each new connection's handshake within connect_timeout: a server that accepts
                # and never answers fails as fast as one that refuses.
                redis_connect_func=ahandshake,
                decode_responses=True,
                protocol=3,  # the search replies are parsed as RESP3 maps (_repository.py)
                # The URL's options win over the settings.
                **{
                    "socket_connect_timeout": settings.connect_timeout,
                    "socket_timeout": settings.command_timeout,
                    **url.options,
                },
            )
        )
        self.scripts = scripts()
        self.auto_create = settings.auto_create
        self.modules_checked = False
        self.indexes: set[str] = set()
        self.lock = asyncio.Lock()

    async def command(self, *arguments: str | int) -> Any:
        """Run one Redis command; its decoded reply."""
        # redis-om requires types-redis, whose redis 4 stubs do not type this call in both forms.
        execute: Any = self.redis.execute_command
        return await execute(*arguments)

    async def transaction(self, commands: Sequence[Command]) -> list[Any]:
        """Run several commands as one transaction (MULTI ... EXEC) in one round trip; their
        decoded replies. Sent on a pooled connection directly: redis-py's pipeline costs more
        than the commands a read sends with it."""
        *_queued, replies = await self.exchange((_MULTI, *commands, _EXEC))
        if replies is None:
            raise ResponseError("the transaction was aborted")
        for reply in replies:
            if isinstance(reply, ResponseError):
                raise reply
        return list(replies)

    async def exchange(
        self, commands: Sequence[Command], each: Callable[[int, Any], None] | None = None
    ) -> list[Any]:
        """Send ``commands`` on a pooled connection in one buffer (a send per command costs a
        wake-up of the server each) and read their replies, each given to ``each`` (with its
        command's position) as it comes: the few commands a read sends, or a staged batch's
        runs, with less of redis-py's machinery than its pipeline or `execute_command`."""
        pool = self.redis.connection_pool
        connection = await pool.get_connection()
        try:
            wire = b"".join(c if isinstance(c, bytes) else packed(*c) for c in commands)
            await asend_packed(connection, wire)
            replies = []
            for position in range(len(commands)):
                replies.append(await connection.read_response())
                if each is not None:
                    each(position, replies[-1])
            return replies
        except BaseException:
            await connection.disconnect()  # a reply may be left unread: never reuse it
            raise
        finally:
            await pool.release(connection)

    async def close(self) -> None:
        await self.redis.connection_pool.disconnect()


class RedisClients:
    """The Redis clients of the process (async code: a set per event loop)."""

    def __init__(self) -> None:
        self._clients = PerLoop(RedisClient.close)

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
        self._ready_tables: set[str] = set()  # tables whose index is known to be current
        self.repositories: dict[type[Any], Any] = {}  # for relationships: one per model

    def block(self) -> Unit | None:
        """The unit of the open block on this scope that the running code is inside, if any
        (a task the block started and that outlived it is no longer inside it)."""
        for level in reversed(_LEVELS.get()):
            unit = level.unit
            if unit.owner is self:
                return unit if unit.open else None
        return None

    def unit(self) -> Unit | None:
        """The unit of the block whose turn the running call holds (see `taking_turns`)."""
        for unit in _HELD.get():
            if unit.owner is self and unit.open:
                return unit
        return None

    @contextlib.asynccontextmanager
    async def turn(self, unit: Unit) -> AsyncIterator[None]:
        """A call's turn in ``unit``'s block, held while it runs: the block's calls take turns,
        and wait while a nested block the calling code is not inside is open (`Unit.may_run`)."""
        if unit in _HELD.get():  # a call of a call (to load relationships): in its turn
            yield
            return
        chain = _LEVELS.get()
        async with unit.turns:
            await unit.turns.wait_for(lambda: unit.may_run(chain))
            held = _HELD.set((*_HELD.get(), unit))
            try:
                yield
            finally:
                with contextlib.suppress(ValueError):
                    _HELD.reset(held)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """A block whose writes are applied together at its end (see `_unit`): the code
        inside it and the tasks it starts; inside a block, a nested block (a savepoint)."""
        unit = self.block()
        level = None if unit is None else await self._nest(unit)
        if unit is not None and level is not None:
            inside, failed = _LEVELS.set((*_LEVELS.get(), level)), True
            try:
                yield
                failed = False
            finally:
                with contextlib.suppress(ValueError):  # ended in another context
                    _LEVELS.reset(inside)
                await self._leave(unit, level, failed=failed)
            return
        unit = Unit(owner=self, turns=asyncio.Condition())
        inside, ended = _LEVELS.set((*_LEVELS.get(), unit.levels[0])), False
        try:
            yield
            ended = True
        finally:
            with contextlib.suppress(ValueError):
                _LEVELS.reset(inside)
            try:  # later calls of the tasks it started run on their own
                async with unit.turns:
                    if ended:  # once the nested blocks open in it (in those tasks) have ended
                        await unit.turns.wait_for(lambda: unit.settled(unit.levels[0]))
                    unit.open = False
                    unit.turns.notify_all()
            finally:
                unit.open = False
        await self.commit(unit)

    async def _nest(self, unit: Unit) -> Level | None:
        """A nested block's level, opened in its turn; None if the block ended meanwhile."""
        chain = _LEVELS.get()
        async with unit.turns:
            await unit.turns.wait_for(lambda: unit.may_run(chain))
            return unit.savepoint() if unit.open else None

    async def _leave(self, unit: Unit, level: Level, *, failed: bool) -> None:
        """End nested block ``level``, once the blocks opened inside it have ended: its writes
        join the enclosing level's if it did not fail and a trial of them is not refused, else
        they are dropped."""
        kept = False
        try:
            async with unit.turns:
                try:
                    await unit.turns.wait_for(lambda: unit.settled(level))
                    if not failed and unit.open:
                        await self.commit(unit, level)  # refused: its writes are dropped
                    kept = not failed
                finally:
                    (unit.release if kept else unit.rollback)(level)
                    unit.turns.notify_all()
        finally:
            unit.rollback(level)  # cancelled before its turn came: dropped all the same

    async def commit(self, unit: Unit, level: Level | None = None) -> None:
        """Apply ``unit``'s writes in one run of the write script, if what it read is
        unchanged; else raise what the script's refusal means, with nothing applied. At the
        end of nested block ``level``: try them, applying nothing, and raise what a refusal of
        one of the nested block's own writes means."""
        if len(unit.operations) <= (0 if level is None else level.operations):
            return
        try:
            for operation in unit.operations:
                if operation.described.table not in self._ready_tables:
                    await self._ready(operation.described)
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        arguments = unit.arguments(check=level is not None)
        reply = await self.run_script(unit.operations[0].described, arguments)
        error = None if reply[0] == "ok" else unit.refusal(reply, level)
        if error is not None:
            raise error

    async def command(self, described: RedisTable[Any], *arguments: str | int) -> Any:
        """Run one command on ``described``'s data; its decoded reply."""
        try:
            if described.table not in self._ready_tables:
                await self._ready(described)
            return await self._client.command(*arguments)
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc

    async def atomic(self, described: RedisTable[Any], *commands: Command) -> list[Any]:
        """Run several commands on ``described``'s data as one transaction, in one round trip;
        their replies."""
        try:
            if described.table not in self._ready_tables:
                await self._ready(described)
            return await self._client.transaction(commands)
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc

    async def run_script(
        self, described: RedisTable[Any], arguments: Sequence[str], script: ScriptName = "write"
    ) -> list[Any]:
        """Run ``script`` (see `ScriptName`) on ``described``'s data; its reply."""
        return (await self.run_scripts(described, [arguments], script))[0]

    async def run_scripts(
        self,
        described: RedisTable[Any],
        runs: Sequence[Sequence[str]],
        script: ScriptName = "write",
        each: Callable[[int, Any], None] | None = None,
    ) -> list[list[Any]]:
        """Run ``script`` once for each of ``runs``, sent together: their replies, each given
        to ``each`` as it comes. Run by its digest; one run alone is loaded first where the
        server lacks it (new, restarted or flushed), runs together follow one that loaded it."""
        client = self._client
        chosen = client.scripts[script]
        commands: list[Command] = [("EVALSHA", chosen.digest, 0, *run) for run in runs]
        try:
            if described.table not in self._ready_tables:
                await self._ready(described)
            try:
                replies = await client.exchange(commands, each)
            except NoScriptError:
                if len(commands) > 1:  # some may have run: never twice
                    raise
                await client.command("SCRIPT", "LOAD", chosen.source)
                replies = await client.exchange(commands, each)
            return [list(reply) for reply in replies]
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: BaseException) -> BackendUnavailableError:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return BackendUnavailableError(f"{self._client.location} is unavailable: {reason}")

    async def _ready(self, described: RedisTable[Any]) -> None:
        """Once per client: the server has the modules; once per index: it is current."""
        client = self._client
        index = redis_keys(self.prefix, described.table).index
        if client.modules_checked and index in client.indexes:
            self._ready_tables.add(described.table)
            return
        async with client.lock:
            if not client.modules_checked:
                await check_modules(client)
                client.modules_checked = True
            if index not in client.indexes:
                await ensure_index(client, described, self.prefix)
                client.indexes.add(index)
        self._ready_tables.add(described.table)
