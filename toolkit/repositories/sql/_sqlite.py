"""SQLite: aiosqlite for the async path, the standard sqlite3 module for the sync path."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.sqlite import insert as dialect_insert
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool

from toolkit.config import Settings
from toolkit.errors import ConfigurationError
from toolkit.repositories.sql._dialect import (
    IntegrityRefusal,
    RefusalKind,
    SqlDialect,
    parse_url,
    pooled_options,
)

__all__ = ["SQLITE"]

_ASYNC_DRIVER = "sqlite+aiosqlite"
_SYNC_DRIVER = "sqlite+pysqlite"
_ACCEPTED = {"sqlite", _ASYNC_DRIVER, _SYNC_DRIVER}
# What failed, by the first words of sqlite3's message (its error name alone is not enough: a
# foreign key refusing a DELETE ... RETURNING is named SQLITE_CONSTRAINT_TRIGGER).
_REFUSALS: dict[str, RefusalKind] = {
    "UNIQUE": "duplicate",
    "FOREIGN KEY": "foreign_key",  # which key, SQLite does not tell
    "NOT NULL": "not_null",
}
# "UNIQUE constraint failed: t.a, t.b", "...: index 'ix_t_a'", "FOREIGN KEY constraint failed"
_FAILED = " constraint failed"
# The columns an INSERT or UPDATE writes, as SQLAlchemy renders them for SQLite.
_INSERTED = re.compile(r"\s*INSERT INTO \S+ \((?P<columns>[^)]*)\) VALUES ", re.IGNORECASE)
_UPDATED = re.compile(r"\s*UPDATE \S+ SET (?P<columns>.*?)(?: WHERE | RETURNING |$)", re.I | re.S)


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

    def integrity_refusal(
        self, orig: BaseException, statement: str | None = None, params: Any = None
    ) -> IntegrityRefusal | None:
        name = getattr(orig, "sqlite_errorname", None)
        if not isinstance(name, str) or not name.startswith("SQLITE_CONSTRAINT"):
            return None
        what, _, told = str(orig).partition(_FAILED)
        told = told.removeprefix(": ")
        kind: RefusalKind = _REFUSALS.get(what, "other")
        if told.startswith("index '") and told.endswith("'"):  # a unique index on expressions
            return IntegrityRefusal(kind, constraint=told[len("index '") : -1])
        if kind == "foreign_key":
            return IntegrityRefusal(kind, written=_written(statement or "", params))
        if kind not in ("duplicate", "not_null") or not told:
            return IntegrityRefusal(kind)
        # Each column as "table.column"; the table is the statement's own.
        named = [part.partition(".") for part in told.split(", ")]
        return IntegrityRefusal(
            kind, table=named[0][0], columns=tuple(column for _, _, column in named)
        )


def _written(statement: str, params: Any) -> tuple[str, ...] | None:
    """The columns that ``statement`` (an INSERT, or an UPDATE) gives a value other than NULL in
    any of its rows of ``params``; None when the statement or its parameters do not tell."""
    inserted = _INSERTED.match(statement)
    if inserted is not None:
        columns = [name.strip() for name in inserted["columns"].split(",")]
    else:
        updated = _UPDATED.match(statement)
        if updated is None:
            return None
        assignments = [part.partition("=") for part in updated["columns"].split(", ")]
        if any(value.strip() != "?" for _, _, value in assignments):
            return None  # an expression: its parameters are not one per column
        columns = [name.strip() for name, _, _ in assignments]
    if not isinstance(params, Sequence) or isinstance(params, str) or not params:
        return None
    rows: list[Sequence[Any]] = []
    if all(isinstance(row, Sequence) and not isinstance(row, str) for row in params):
        rows = list(params)  # executemany: a sequence per row
    else:  # one row, or several rendered into one INSERT: the values one after another
        rows = [
            params[start : start + len(columns)] for start in range(0, len(params), len(columns))
        ]
    if any(len(row) < len(columns) for row in rows):
        return None
    names = [name.strip('"') for name in columns]
    return tuple(name for at, name in enumerate(names) if any(row[at] is not None for row in rows))


SQLITE = SqliteDialect()
