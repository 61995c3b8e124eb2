"""PostgreSQL: asyncpg for the async path, psycopg2 for the sync path."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.dialects.postgresql import insert as dialect_insert
from sqlalchemy.engine import URL, AdaptedConnection

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
from toolkit.repositories.sql._postgres_options import PostgresOptions, without_options

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
    begin = "BEGIN"
    in_process = False

    def url(self, settings: Settings, *, is_async: bool) -> URL:
        url = self._given(settings)
        if is_async:
            # asyncpg takes the URL's options as arguments (engine_options): SQLAlchemy would
            # pass them to it as keyword arguments it does not know.
            return without_options(url).set(drivername=_ASYNC_DRIVER)
        return url.set(drivername=_SYNC_DRIVER)  # psycopg2 gives them to libpq as they are

    def engine_options(self, url: URL, settings: Settings, *, is_async: bool) -> dict[str, Any]:
        options = PostgresOptions.of(self._given(settings), self.url_setting)
        if is_async:
            return pooled_options(settings, options.asyncpg_arguments(settings))
        return pooled_options(settings, options.psycopg2_arguments(settings))

    def _given(self, settings: Settings) -> URL:
        """The URL as given, its options checked: one either driver would not honour is
        refused here, before any connection."""
        url = parse_url(settings.postgres_url.get_secret_value(), self.url_setting)
        if url.drivername not in _ACCEPTED:
            raise ConfigurationError(
                f"{self.url_setting} must be a postgresql:// URL, not {url.drivername}://"
            )
        PostgresOptions.of(url, self.url_setting)
        return url

    def on_connect(self, dbapi_connection: Any) -> None:
        if isinstance(dbapi_connection, AdaptedConnection):  # asyncpg, behind SQLAlchemy
            dbapi_connection.run_async(_decode_uuids)

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
        # A data exception (a value the column cannot hold) or a program limit (an index entry
        # too large): the data is at fault, not the server.
        if state.startswith(("22", "54")):
            return ValidationError
        if state[:2] in _UNAVAILABLE_CLASSES or state in _UNFIT_SCHEMA:
            return BackendUnavailableError
        return None


async def _decode_uuids(connection: Any) -> None:
    """Decode uuid values to `uuid.UUID`, as psycopg2 does (asyncpg: a UUID class of its own)."""
    await connection.set_type_codec(
        "uuid", schema="pg_catalog", encoder=_uuid_bytes, decoder=_uuid, format="binary"
    )


def _uuid(data: bytes) -> uuid.UUID:
    return uuid.UUID(bytes=data)


def _uuid_bytes(value: Any) -> bytes:
    return (value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))).bytes


POSTGRES = PostgresDialect()
