"""PostgreSQL: asyncpg for the async path, psycopg2 for the sync path."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as dialect_insert
from sqlalchemy.engine import URL

from toolkit.config import Settings
from toolkit.errors import (
    BackendUnavailableError,
    ConfigurationError,
    ToolkitError,
    ValidationError,
)
from toolkit.repositories.sql._dialect import (
    SqlDialect,
    conflict_or_constraint,
    parse_url,
    pooled_options,
)

__all__ = ["POSTGRES"]

_ASYNC_DRIVER = "postgresql+asyncpg"
_SYNC_DRIVER = "postgresql+psycopg2"
_ACCEPTED = {"postgres", "postgresql", _ASYNC_DRIVER, _SYNC_DRIVER}
_UNIQUE_VIOLATION = "23505"
# Connection exceptions, invalid authorization, invalid catalog name, insufficient resources,
# operator intervention (shutdown, cancel, timeout), system errors.
_UNAVAILABLE_CLASSES = {"08", "28", "3D", "53", "57", "58"}
_UNFIT_SCHEMA = {"42P01", "42703"}  # undefined table or column: the schema is not this model's


class PostgresDialect(SqlDialect):
    name = "postgres"
    url_setting = "POSTGRES_DATABASE_URL"
    orders_bulk_returning = True
    binary_collation = "C"
    insert = staticmethod(dialect_insert)
    # A transaction-scoped advisory lock: one creator at a time, across processes.
    ddl_begin = ("BEGIN", "SELECT pg_advisory_xact_lock(7310582049)")

    def url(self, settings: Settings, *, is_async: bool) -> URL:
        url = parse_url(settings.postgres_url, self.url_setting)
        if url.drivername not in _ACCEPTED:
            raise ConfigurationError(
                f"{self.url_setting} must be a postgresql:// URL, not {url.drivername}://"
            )
        return url.set(drivername=_ASYNC_DRIVER if is_async else _SYNC_DRIVER)

    def engine_options(self, url: URL, settings: Settings, *, is_async: bool) -> dict[str, Any]:
        if is_async:
            # asyncpg: `timeout` bounds connecting (60 s by default), `command_timeout` a query.
            connect_args: dict[str, Any] = {
                "timeout": settings.connect_timeout,
                "command_timeout": settings.command_timeout,
            }
        else:
            # psycopg2 waits forever unless told; libpq takes whole seconds, at least 2.
            statement_ms = max(1, round(settings.command_timeout * 1000))  # 0 would mean none
            connect_args = {
                "connect_timeout": max(2, round(settings.connect_timeout)),
                "options": f"-c statement_timeout={statement_ms}",
            }
        return pooled_options(settings, connect_args)

    def on_connect(self, dbapi_connection: Any) -> None:
        pass  # the server's defaults serve

    def describe(self, url: URL) -> str:
        return f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}"

    def integrity_error_kind(self, orig: BaseException) -> type[ToolkitError]:
        return conflict_or_constraint(getattr(orig, "pgcode", None) == _UNIQUE_VIOLATION)

    def error_kind(self, orig: BaseException) -> type[ToolkitError] | None:
        # Both drivers give the SQLSTATE (psycopg2 as pgcode, asyncpg as sqlstate); SQLAlchemy
        # maps asyncpg's server errors to a bare DBAPIError, so the state is what tells them apart.
        state = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
        if not isinstance(state, str):
            return None
        if state.startswith("23"):
            return self.integrity_error_kind(orig)
        if state.startswith("22"):  # data exception: a value the column cannot hold
            return ValidationError
        if state[:2] in _UNAVAILABLE_CLASSES or state in _UNFIT_SCHEMA:
            return BackendUnavailableError
        return None


POSTGRES = PostgresDialect()
