"""SQLite: aiosqlite for the async path, the standard sqlite3 module for the sync path."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.sqlite import insert as dialect_insert
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool

from toolkit.config import Settings
from toolkit.errors import ConfigurationError, ToolkitError
from toolkit.repositories.sql._dialect import (
    SqlDialect,
    conflict_or_constraint,
    parse_url,
    pooled_options,
)

__all__ = ["SQLITE"]

_ASYNC_DRIVER = "sqlite+aiosqlite"
_SYNC_DRIVER = "sqlite+pysqlite"
_ACCEPTED = {"sqlite", _ASYNC_DRIVER, _SYNC_DRIVER}
_DUPLICATES = {"SQLITE_CONSTRAINT_PRIMARYKEY", "SQLITE_CONSTRAINT_UNIQUE"}


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


class SqliteDialect(SqlDialect):
    name = "sqlite"
    url_setting = "SQLITE_DATABASE_URL"
    binary_collation = None  # BINARY, the default, compares by code point
    insert = staticmethod(dialect_insert)
    orders_bulk_returning = False  # SQLAlchemy would fall back to one INSERT per row
    # IMMEDIATE takes the database's write lock at once: one creator at a time.
    ddl_begin = ("BEGIN IMMEDIATE",)
    begin = "BEGIN IMMEDIATE"
    in_process = True

    def url(self, settings: Settings, *, is_async: bool) -> URL:
        url = parse_url(settings.sqlite_url.get_secret_value(), self.url_setting)
        if url.drivername not in _ACCEPTED:
            raise ConfigurationError(
                f"{self.url_setting} must be a sqlite:// URL, not {url.drivername}://"
            )
        if url.host or url.port:
            raise ConfigurationError(
                f"{self.url_setting} names a host; a file is given as sqlite:///path/to/file.db"
            )
        return url.set(drivername=_ASYNC_DRIVER if is_async else _SYNC_DRIVER)

    def engine_options(self, url: URL, settings: Settings, *, is_async: bool) -> dict[str, Any]:
        # `timeout` is how long a statement waits for another writer's lock before failing.
        connect_args: dict[str, Any] = {
            "timeout": settings.command_timeout,
            "check_same_thread": False,
        }
        if _is_memory(url):
            # One connection holds an in-memory database: share it, across threads too.
            return {
                "isolation_level": "AUTOCOMMIT",
                "connect_args": connect_args,
                "poolclass": StaticPool,
            }
        return pooled_options(settings, connect_args)

    def on_connect(self, dbapi_connection: Any) -> None:
        # SQLite enforces foreign keys only when each connection asks for it.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    def single_connection(self, url: URL) -> bool:
        return _is_memory(url)

    def describe(self, url: URL) -> str:
        return f"SQLite database {url.database or ':memory:'}"

    def integrity_error_kind(self, orig: BaseException) -> type[ToolkitError]:
        return conflict_or_constraint(getattr(orig, "sqlite_errorname", None) in _DUPLICATES)


SQLITE = SqliteDialect()
