"""SQL engines: made on first use, one per event loop (async) or per process (sync).

`toolkit.lifetimes` keeps them and closes them; this module says how an engine is made and what
it remembers (the tables it has made sure of). Written in both forms by hand: the one difference
that matters, running DDL through ``run_sync`` on an async connection, cannot be generated.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from toolkit.config import Settings
from toolkit.lifetimes import PerLoop, PerProcess
from toolkit.repositories.sql_dialect import SqlDialect

__all__ = ["AsyncSqlEngine", "AsyncSqlEngines", "SyncSqlEngine", "SyncSqlEngines"]

EngineT = TypeVar("EngineT", AsyncEngine, Engine)


def _listen_for_connects(engine: Engine, dialect: SqlDialect) -> None:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dialect.on_connect(dbapi_connection)

    event.listen(engine, "connect", on_connect)


def _create_missing(connection: Connection, tables: Sequence[Table]) -> None:
    tables[0].metadata.create_all(connection, tables=list(tables), checkfirst=True)


class _EngineBase(Generic[EngineT]):
    """An engine and the tables it has made sure exist (the creating is the caller's)."""

    def __init__(self, dialect: SqlDialect, url: URL, engine: EngineT, settings: Settings) -> None:
        self.dialect = dialect
        self.url = url
        self.engine: EngineT = engine
        self._auto_create = settings.auto_create
        self._wait = settings.pool_timeout
        # An in-memory database lives in one connection that every provider shares: they take
        # turns, as they would on a pool of one connection.
        self._single = dialect.single_connection(url)
        self._ready: set[str] = set()

    def _busy(self) -> TimeoutError:
        return TimeoutError(
            f"the single connection of {self.dialect.describe(self.url)} stayed in use by "
            f"another provider for {self._wait} s"
        )

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
        self, dialect: SqlDialect, url: URL, engine: AsyncEngine, settings: Settings
    ) -> None:
        super().__init__(dialect, url, engine, settings)
        self.lock = asyncio.Lock()
        self._turn = asyncio.Lock()

    async def connect(self) -> AsyncConnection:
        """A pooled connection (autocommitting), for one provider until `release`."""
        if self._single:
            try:
                await asyncio.wait_for(self._turn.acquire(), self._wait)
            except TimeoutError:
                raise self._busy() from None
        try:
            return await self.engine.connect()
        except BaseException:
            if self._single:
                self._turn.release()
            raise

    async def release(self, connection: AsyncConnection, *, broken: bool = False) -> None:
        """Give ``connection`` back to the pool (``broken``: it may be in any state)."""
        try:
            # Closing hands it back to the pool, which rolls back whatever was left open (a
            # cancelled or timed-out call); a connection that cannot even do that is dropped.
            try:
                await connection.close()
            except Exception:
                if not broken:
                    raise
                with contextlib.suppress(Exception):
                    await connection.invalidate()
        finally:
            if self._single:
                self._turn.release()

    async def create_tables(self, connection: AsyncConnection, tables: Sequence[Table]) -> None:
        """Create those of ``tables`` that do not exist, on ``connection``."""
        await connection.run_sync(_create_missing, tables)


class SyncSqlEngine(_EngineBase[Engine]):
    """A sync engine."""

    def __init__(self, dialect: SqlDialect, url: URL, engine: Engine, settings: Settings) -> None:
        super().__init__(dialect, url, engine, settings)
        self.lock = threading.Lock()
        self._turn = threading.Lock()

    def connect(self) -> Connection:
        """A pooled connection (autocommitting), for one provider until `release`."""
        if self._single and not self._turn.acquire(timeout=self._wait):
            raise self._busy()
        try:
            return self.engine.connect()
        except BaseException:
            if self._single:
                self._turn.release()
            raise

    def release(self, connection: Connection, *, broken: bool = False) -> None:
        """Give ``connection`` back to the pool (``broken``: it may be in any state)."""
        try:
            # Closing hands it back to the pool, which rolls back whatever was left open (a
            # cancelled or timed-out call); a connection that cannot even do that is dropped.
            try:
                connection.close()
            except Exception:
                if not broken:
                    raise
                with contextlib.suppress(Exception):
                    connection.invalidate()
        finally:
            if self._single:
                self._turn.release()

    def create_tables(self, connection: Connection, tables: Sequence[Table]) -> None:
        """Create those of ``tables`` that do not exist, on ``connection``."""
        _create_missing(connection, tables)


async def _dispose_async(engine: AsyncSqlEngine) -> None:
    await engine.engine.dispose()


def _dispose_sync(engine: SyncSqlEngine) -> None:
    engine.engine.dispose()


class AsyncSqlEngines:
    """The async engines of every event loop in the process."""

    def __init__(self) -> None:
        self._engines = PerLoop(_dispose_async)

    async def get(self, dialect: SqlDialect, settings: Settings) -> AsyncSqlEngine:
        """The running loop's engine for ``dialect`` under ``settings``, made on first use."""

        def make() -> AsyncSqlEngine:
            url = dialect.url(settings, is_async=True)
            options = dialect.engine_options(url, settings, is_async=True)
            engine = create_async_engine(url, echo=settings.echo, **options)
            _listen_for_connects(engine.sync_engine, dialect)
            return AsyncSqlEngine(dialect, url, engine, settings)

        # Settings are frozen and hashable: equal settings share an engine, found at once.
        return await self._engines.get((dialect.name, settings), make)

    async def dispose(self) -> None:
        """Close the running loop's engines and their pooled connections."""
        await self._engines.dispose()


class SyncSqlEngines:
    """The sync engines of the process; disposed at interpreter exit."""

    def __init__(self) -> None:
        self._engines = PerProcess(_dispose_sync)

    def get(self, dialect: SqlDialect, settings: Settings) -> SyncSqlEngine:
        """The engine for ``dialect`` under ``settings``, made on first use."""

        def make() -> SyncSqlEngine:
            url = dialect.url(settings, is_async=False)
            options = dialect.engine_options(url, settings, is_async=False)
            engine = create_engine(url, echo=settings.echo, **options)
            _listen_for_connects(engine, dialect)
            return SyncSqlEngine(dialect, url, engine, settings)

        return self._engines.get((dialect.name, settings), make)

    def dispose(self) -> None:
        """Close every engine and its pooled connections."""
        self._engines.dispose()
