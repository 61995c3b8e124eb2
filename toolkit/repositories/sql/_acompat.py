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

from sqlalchemy import Connection, Engine, Executable, Row, Table, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from toolkit.config import Settings
from toolkit.repositories.sql._dialect import SqlDialect
from toolkit.repositories.sql._direct import DirectStatement, driver_error, observed

__all__ = [
    "aacquire",
    "acquire",
    "acreate_missing",
    "afetch_rows",
    "amake_engine",
    "close_driver",
    "create_missing",
    "driver_of",
    "fetch_rows",
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


async def afetch_rows(
    connection: AsyncConnection,
    direct: DirectStatement | None,
    statement: Executable,
    params: dict[str, Any],
) -> Sequence[Row[Any]] | Sequence[Sequence[Any]]:
    """The rows of ``statement``: on the driver itself when it is ``direct`` (`_direct`)."""
    sync = connection.sync_connection
    if direct is None or sync is None or sync.invalidated or observed(sync):
        return (await connection.execute(statement, params)).all()
    raw = sync.connection
    driver: Any = raw.driver_connection
    adapter: Any = raw.dbapi_connection
    arguments = direct.arguments(params)
    try:
        if sync.dialect.driver == "asyncpg":
            if direct.knows_column_types:
                return direct.rows(await driver.fetch(direct.sql, *arguments), None)
            prepared = await driver.prepare(direct.sql)  # once: the columns' type codes
            codes = [attribute.type.oid for attribute in prepared.get_attributes()]
            return direct.rows(await prepared.fetch(*arguments), codes)
        return direct.rows(list(await driver.execute_fetchall(direct.sql, arguments)), None)
    except Exception as error:
        try:  # as SQLAlchemy's adapter raises it (asyncpg's errors as DBAPI errors)
            adapter._handle_exception(error)
        except Exception as adapted:
            raise driver_error(direct, arguments, adapted, sync.dialect.loaded_dbapi.Error) from (
                error
            )
        raise


def fetch_rows(
    connection: Connection,
    direct: DirectStatement | None,
    statement: Executable,
    params: dict[str, Any],
) -> Sequence[Row[Any]] | Sequence[Sequence[Any]]:
    """The rows of ``statement``: on the driver itself when it is ``direct`` (`_direct`)."""
    if direct is None or connection.invalidated or observed(connection):
        return connection.execute(statement, params).all()
    arguments = direct.arguments(params)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(direct.sql, arguments)
        found = cursor.fetchall()
        codes = None if direct.knows_column_types else [column[1] for column in cursor.description]
    except Exception as error:
        raise driver_error(direct, arguments, error, connection.dialect.loaded_dbapi.Error) from (
            error
        )
    finally:
        cursor.close()
    return direct.rows(found, codes)
