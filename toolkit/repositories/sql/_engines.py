"""SQL engines: made on first use, then kept for reuse and closed by `toolkit._lifetimes`.

Async code gets one engine per event loop, closed when the loop shuts down; sync code one per
process, closed at exit. This module says how an engine is made and what it remembers (the
tables it has made sure of); what differs between the async and the sync form is in `_acompat`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from toolkit._lifetimes import PerLoop
from toolkit.config import Settings
from toolkit.repositories.sql._acompat import (
    aacquire,
    aclose_driver,
    acreate_missing,
    adriver_of,
    amake_engine,
)
from toolkit.repositories.sql._dialect import SqlDialect
from toolkit.repositories.sql._direct import DirectStatements


class SqlEngine:
    """An engine and the tables it has made sure exist (the creating is the caller's)."""

    def __init__(
        self, dialect: SqlDialect, url: URL, engine: AsyncEngine, settings: Settings
    ) -> None:
        self.dialect = dialect
        self.url = url
        self.engine = engine
        self.lock = asyncio.Lock()
        self._auto_create = settings.auto_create
        self._wait = settings.pool_timeout
        # An in-memory database lives in one connection that every provider shares: they take
        # turns, as they would on a pool of one connection.
        self._single = dialect.single_connection(url)
        self._turn = asyncio.Lock()
        self._ready: set[str] = set()
        self._ready_groups: set[Sequence[Table]] = set()
        # The driver connections of SQLite files, to close should theirs break (see release).
        self._drivers: dict[AsyncConnection, Any] = {}
        self.direct = DirectStatements(engine.dialect)  # the repositories' own, compiled

    def missing(self, tables: Sequence[Table]) -> list[Table]:
        """Those of ``tables`` not yet made sure of; none when auto-create is off."""
        if not self._auto_create or tables in self._ready_groups:
            return []
        missing = [table for table in tables if table.key not in self._ready]
        if not missing and isinstance(tables, tuple):
            self._ready_groups.add(tables)  # a model's tables, asked of on every call
        return missing

    def mark_ready(self, tables: Sequence[Table]) -> None:
        self._ready.update(table.key for table in tables)

    async def connect(self) -> AsyncConnection:
        """A pooled connection (autocommitting), for one provider until `release`."""
        if self._single and not await aacquire(self._turn, self._wait):
            raise TimeoutError(
                f"the single connection of {self.dialect.describe(self.url)} stayed in use by "
                f"another provider for {self._wait} s"
            )
        try:
            connection = await self.engine.connect()
            if self.dialect.in_process and not self._single:
                self._drivers[connection] = await adriver_of(connection)
            return connection
        except BaseException:
            if self._single:
                self._turn.release()
            raise

    async def release(self, connection: AsyncConnection, *, broken: bool = False) -> None:
        """Give ``connection`` back to the pool (``broken``: it may be in any state: dropped)."""
        driver = self._drivers.pop(connection, None)
        try:
            if broken:
                # Neither can the pool be relied on to end a transaction opened with BEGIN on an
                # autocommitting connection, nor SQLAlchemy to close an aiosqlite connection
                # whose statement was cancelled (the garbage collector would, holding SQLite's
                # write lock meanwhile): the connection is dropped (the server rolls back) and a
                # SQLite file's driver connection closed (sqlite3 rolls back).
                with contextlib.suppress(Exception):
                    if driver is not None:
                        await aclose_driver(driver)
                    if self._single:  # the one connection of an in-memory database: kept
                        await connection.exec_driver_sql("ROLLBACK")
                    else:
                        await connection.invalidate()
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
        await acreate_missing(connection, tables)


async def _dispose(engine: SqlEngine) -> None:
    await engine.engine.dispose()


class SqlEngines:
    """The engines of the process (async code: a set per event loop)."""

    def __init__(self) -> None:
        self._engines = PerLoop(_dispose)

    async def get(self, dialect: SqlDialect, settings: Settings) -> SqlEngine:
        """The engine for ``dialect`` under ``settings``, made on first use."""

        def make() -> SqlEngine:
            url, engine = amake_engine(dialect, settings)
            return SqlEngine(dialect, url, engine, settings)

        # Settings are frozen and hashable: equal settings share an engine, found at once.
        return await self._engines.get((dialect.name, settings), make)

    async def dispose(self) -> None:
        """Close the engines and their pooled connections; later calls make new ones."""
        await self._engines.dispose()
