"""What the SQL repository needs to know about a dialect: `SqlDialect`, and URL parsing.

`SqlDialect` is the small seam between the one SQL repository and PostgreSQL or SQLite: URLs,
engine options, connection set-up and how integrity errors are told apart. It does no I/O.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Column, Table, bindparam
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.elements import ColumnElement

from toolkit.config import Settings
from toolkit.errors import ConfigurationError, ToolkitError

__all__ = [
    "VERSION_PARAM",
    "IntegrityRefusal",
    "RefusalKind",
    "SqlDialect",
    "parse_url",
    "pooled_options",
]

VERSION_PARAM = "toolkit_version"
"""The bind name of the version a `Versioned` row must be at (no column can clash with it)."""


def parse_url(raw: str, setting: str) -> URL:
    """Parse a database URL, raising `ConfigurationError` (without the password) when malformed."""
    try:
        return make_url(raw)
    except (ArgumentError, ValueError) as exc:
        # The raw value may hold a password: name the setting, not the value.
        raise ConfigurationError(f"{setting} is not a valid database URL") from exc


RefusalKind = Literal["duplicate", "foreign_key", "not_null", "other"]


@dataclass(frozen=True, slots=True)
class IntegrityRefusal:
    """What a driver tells of the constraint that refused a statement, in the database's terms
    (tables, constraints, columns); `toolkit.repositories.sql._integrity` reads it in the
    model's. Any part the driver does not tell is None or empty."""

    kind: RefusalKind
    table: str | None = None  # the table whose constraint it is
    constraint: str | None = None  # the constraint's or the unique index's name
    columns: tuple[str, ...] = ()  # its columns, where the driver names them
    # The columns the statement gave a value other than NULL, where the driver names no
    # column and the statement tells (SQLite's foreign keys: one of these refused).
    written: tuple[str, ...] | None = None


class SqlDialect(ABC):
    """A SQL backend: its URLs, engine options and the reading of its errors."""

    name: str
    """The backend's registry name ("postgres", "sqlite")."""

    url_setting: str
    """The environment variable that holds the backend's URL."""

    binary_collation: str | None
    """The collation that compares strings by code point, where the default may not."""

    orders_bulk_returning: bool
    """Whether SQLAlchemy's ``sort_by_parameter_order`` keeps multi-row INSERTs batched here.

    Where it does not (SQLite), the toolkit orders the returned rows itself.
    """

    ddl_begin: tuple[str, ...]
    """Statements that open a transaction for creating tables, serialized across processes."""

    in_process: bool
    """Whether the database is in-process (SQLite): a broken connection's driver connection is
    closed by the toolkit, rather than left to the server to end (PostgreSQL)."""

    begin: str
    """The statement that opens a transaction that will write (SQLite: take the write lock at
    once, so that two transactions that read and then write cannot deadlock)."""

    @abstractmethod
    def url(self, settings: Settings, *, is_async: bool) -> URL:
        """The URL for the async or the sync driver, derived from whichever form was given."""

    @abstractmethod
    def engine_options(self, url: URL, settings: Settings, *, is_async: bool) -> dict[str, Any]:
        """Keyword arguments for ``create_engine`` / ``create_async_engine``."""

    @abstractmethod
    def on_connect(self, dbapi_connection: Any) -> None:
        """Prepare each new driver connection (pragmas)."""

    insert: Callable[[Table], Any]
    """The dialect's own ``insert()``, the one with ``on_conflict_do_update``."""

    def upsert(
        self,
        table: Table,
        keys: Sequence[str],
        pk: Column[Any],
        returning: Sequence[ColumnElement[Any]],
        version: Column[Any] | None = None,
    ) -> ReturningInsert[Any]:
        """INSERT of ``keys``; an existing row with the same primary key is updated instead.

        With a ``version`` column: the existing row only while it is at the version bound as
        ``toolkit_version``, and its version moves on by one (else no row is returned).
        """
        statement = self.insert(table)
        updates: dict[str, Any] = {key: statement.excluded[key] for key in keys if key != pk.key}
        where = None
        if version is not None:
            updates[version.key] = version + 1
            where = version == bindparam(VERSION_PARAM)
        upsert = statement.on_conflict_do_update(
            index_elements=[pk], set_=updates or {pk.key: statement.excluded[pk.key]}, where=where
        )
        returning_insert: ReturningInsert[Any] = upsert.returning(*returning)
        return returning_insert

    def single_connection(self, url: URL) -> bool:
        """Whether the database lives in a single shared connection (in-memory SQLite)."""
        return False

    @abstractmethod
    def describe(self, url: URL) -> str:
        """Where the backend is, for error messages: never includes a password."""

    @abstractmethod
    def integrity_refusal(
        self, orig: BaseException, statement: str | None = None, params: Any = None
    ) -> IntegrityRefusal | None:
        """What the driver's exception ``orig`` tells of the constraint that refused the
        ``statement`` run with ``params`` (as SQLAlchemy's error holds them); None when it is
        not a constraint's refusal."""

    def error_kind(self, orig: BaseException) -> type[ToolkitError] | None:
        """The toolkit error for a driver error the dialect can read precisely, else None."""
        return None


def pooled_options(settings: Settings, connect_args: dict[str, Any]) -> dict[str, Any]:
    """Engine options for a pool of autocommitting connections sized by ``settings``."""
    return {
        "isolation_level": "AUTOCOMMIT",  # each call is one statement; see _repository
        "connect_args": connect_args,
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.pool_timeout,
        "pool_recycle": settings.pool_recycle,
        "pool_pre_ping": settings.pool_pre_ping,
    }
