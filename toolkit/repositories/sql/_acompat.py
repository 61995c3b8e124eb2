"""What differs between the SQL wing's async sources and their generated sync twins.

The async sources call the ``a``-prefixed names; the rename rules in pyproject.toml turn each
into its sync namesake in the generated twins. Hand-written, in both forms, and nothing else:
the rest of the twins is generated.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from toolkit.config import Settings
from toolkit.repositories.sql._dialect import SqlDialect

__all__ = [
    "aacquire",
    "acquire",
    "acreate_missing",
    "amake_engine",
    "close_driver",
    "create_missing",
    "driver_of",
    "make_engine",
]


def amake_engine(dialect: SqlDialect, settings: Settings) -> tuple[URL, AsyncEngine]:
    """The async driver's URL and an engine on it, its connections prepared by ``dialect``."""
    url = dialect.url(settings, is_async=True)
    options = dialect.engine_options(url, settings, is_async=True)
    engine = create_async_engine(url, echo=settings.echo, **options)
    _listen_for_connects(engine.sync_engine, dialect)
    return url, engine


def make_engine(dialect: SqlDialect, settings: Settings) -> tuple[URL, Engine]:
    """The sync driver's URL and an engine on it, its connections prepared by ``dialect``."""
    url = dialect.url(settings, is_async=False)
    options = dialect.engine_options(url, settings, is_async=False)
    engine = create_engine(url, echo=settings.echo, **options)
    _listen_for_connects(engine, dialect)
    return url, engine


def _listen_for_connects(engine: Engine, dialect: SqlDialect) -> None:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dialect.on_connect(dbapi_connection)

    event.listen(engine, "connect", on_connect)


async def aacquire(lock: asyncio.Lock, seconds: float) -> bool:
    """Take ``lock`` within ``seconds``; whether it was taken."""
    try:
        await asyncio.wait_for(lock.acquire(), seconds)
    except TimeoutError:
        return False
    return True


def acquire(lock: threading.Lock, seconds: float) -> bool:
    """Take ``lock`` within ``seconds``; whether it was taken."""
    return lock.acquire(timeout=seconds)


async def adriver_of(connection: AsyncConnection) -> Any:
    """The driver's own connection under ``connection`` (an aiosqlite connection)."""
    return (await connection.get_raw_connection()).driver_connection


def driver_of(connection: Connection) -> Any:
    """The driver's own connection under ``connection`` (a sqlite3 connection)."""
    return connection.connection.driver_connection


async def aclose_driver(driver: Any) -> None:
    """Close an aiosqlite connection (after what it is running; sqlite3 rolls back)."""
    await driver.close()


def close_driver(driver: Any) -> None:
    """Close a sqlite3 connection (it rolls back what it left open)."""
    driver.close()


async def acreate_missing(connection: AsyncConnection, tables: Sequence[Table]) -> None:
    """Create those of ``tables`` that do not exist, on ``connection`` (DDL runs sync inside)."""
    await connection.run_sync(_create_missing, tables)


def create_missing(connection: Connection, tables: Sequence[Table]) -> None:
    """Create those of ``tables`` that do not exist, on ``connection``."""
    _create_missing(connection, tables)


def _create_missing(connection: Connection, tables: Sequence[Table]) -> None:
    tables[0].metadata.create_all(connection, tables=list(tables), checkfirst=True)
