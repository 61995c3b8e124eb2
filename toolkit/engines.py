"""SQL engines: made lazily, kept per event loop (async) or per process (sync), disposed at the end.

An async engine's pooled connections belong to the event loop that opened them, so each loop gets
its own engines. They are disposed when the loop shuts down (``asyncio.run``, ``asyncio.Runner``
and anyio, which FastAPI's TestClient uses, finalize async generators at that point: a parked
generator per loop is the hook), or earlier by ``dispose()``. Sync engines live for the process
and are disposed at exit.

This module is written by hand in both forms because the two lifetimes differ; what the two
share (URLs, options, table creation) lives in the dialects and in `_EngineBase`.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
import weakref
from collections.abc import AsyncGenerator, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from toolkit.config import Settings
from toolkit.repositories.sql_dialect import SqlDialect

__all__ = ["AsyncSqlEngine", "AsyncSqlEngines", "SyncSqlEngine", "SyncSqlEngines"]

EngineT = TypeVar("EngineT", AsyncEngine, Engine)
# Settings are frozen and hashable: equal settings share an engine, found without parsing URLs.
_EngineKey = tuple[str, Settings]


def _listen_for_connects(engine: Engine, dialect: SqlDialect) -> None:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dialect.on_connect(dbapi_connection)

    event.listen(engine, "connect", on_connect)


def _create_missing(connection: Connection, tables: Sequence[Table]) -> None:
    tables[0].metadata.create_all(connection, tables=list(tables), checkfirst=True)


class _EngineBase(Generic[EngineT]):
    """An engine and the tables it has made sure exist (the creating is the caller's)."""

    def __init__(self, dialect: SqlDialect, url: URL, engine: EngineT, auto_create: bool) -> None:
        self.dialect = dialect
        self.url = url
        self.engine: EngineT = engine
        self._auto_create = auto_create
        self._ready: set[str] = set()

    def missing(self, tables: Sequence[Table]) -> list[Table]:
        """Those of ``tables`` not yet made sure of; none when auto-create is off."""
        if not self._auto_create:
            return []
        return [table for table in tables if table.key not in self._ready]

    def mark_ready(self, tables: Sequence[Table]) -> None:
        self._ready.update(table.key for table in tables)


class AsyncSqlEngine(_EngineBase[AsyncEngine]):
    """An async engine of one event loop."""

    def __init__(
        self, dialect: SqlDialect, url: URL, engine: AsyncEngine, auto_create: bool
    ) -> None:
        super().__init__(dialect, url, engine, auto_create)
        self.lock = asyncio.Lock()

    async def create_tables(self, connection: AsyncConnection, tables: Sequence[Table]) -> None:
        """Create those of ``tables`` that do not exist, on ``connection``."""
        await connection.run_sync(_create_missing, tables)


class SyncSqlEngine(_EngineBase[Engine]):
    """A sync engine."""

    def __init__(self, dialect: SqlDialect, url: URL, engine: Engine, auto_create: bool) -> None:
        super().__init__(dialect, url, engine, auto_create)
        self.lock = threading.Lock()

    def create_tables(self, connection: Connection, tables: Sequence[Table]) -> None:
        """Create those of ``tables`` that do not exist, on ``connection``."""
        _create_missing(connection, tables)


class _LoopEngines:
    def __init__(self) -> None:
        self.engines: dict[_EngineKey, AsyncSqlEngine] = {}
        self.finalizer: AsyncGenerator[None, None] | None = None

    async def dispose(self) -> None:
        engines, self.engines = list(self.engines.values()), {}
        for engine in engines:
            await engine.engine.dispose()


async def _dispose_when_loop_ends(engines: _LoopEngines) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await engines.dispose()


class AsyncSqlEngines:
    """The async engines of every event loop in the process."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopEngines] = (
            weakref.WeakKeyDictionary()
        )

    async def get(self, dialect: SqlDialect, settings: Settings) -> AsyncSqlEngine:
        """The running loop's engine for ``dialect`` under ``settings``, made on first use."""
        key = (dialect.name, settings)
        loop = asyncio.get_running_loop()
        per_loop = self._by_loop.get(loop)
        if per_loop is None:
            per_loop = self._by_loop[loop] = _LoopEngines()
            finalizer = _dispose_when_loop_ends(per_loop)
            await anext(finalizer)  # parked until the loop finalizes async generators
            per_loop.finalizer = finalizer
        found = per_loop.engines.get(key)
        if found is None:
            url = dialect.url(settings, is_async=True)
            engine = create_async_engine(
                url, echo=settings.echo, **dialect.engine_options(url, settings, is_async=True)
            )
            _listen_for_connects(engine.sync_engine, dialect)
            found = per_loop.engines[key] = AsyncSqlEngine(
                dialect, url, engine, settings.auto_create
            )
        return found

    async def dispose(self) -> None:
        """Close the running loop's engines and their pooled connections."""
        per_loop = self._by_loop.get(asyncio.get_running_loop())
        if per_loop is not None:
            await per_loop.dispose()


class SyncSqlEngines:
    """The sync engines of the process; disposed at interpreter exit."""

    def __init__(self) -> None:
        self._engines: dict[_EngineKey, SyncSqlEngine] = {}
        self._lock = threading.Lock()
        atexit.register(self.dispose)

    def get(self, dialect: SqlDialect, settings: Settings) -> SyncSqlEngine:
        """The engine for ``dialect`` under ``settings``, made on first use."""
        key = (dialect.name, settings)
        found = self._engines.get(key)
        if found is None:
            with self._lock:
                found = self._engines.get(key)
                if found is None:
                    url = dialect.url(settings, is_async=False)
                    engine = create_engine(
                        url,
                        echo=settings.echo,
                        **dialect.engine_options(url, settings, is_async=False),
                    )
                    _listen_for_connects(engine, dialect)
                    found = self._engines[key] = SyncSqlEngine(
                        dialect, url, engine, settings.auto_create
                    )
        return found

    def dispose(self) -> None:
        """Close every engine and its pooled connections."""
        with self._lock:
            engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            engine.engine.dispose()
