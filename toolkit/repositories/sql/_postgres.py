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
    IntegrityRefusal,
    RefusalKind,
    SqlDialect,
    parse_url,
    pooled_options,
)
from toolkit.repositories.sql._postgres_options import PostgresOptions, without_options

__all__ = ["POSTGRES"]

_ASYNC_DRIVER = "postgresql+asyncpg"
_SYNC_DRIVER = "postgresql+psycopg2"
_ACCEPTED = {"postgres", "postgresql", _ASYNC_DRIVER, _SYNC_DRIVER}
_REFUSALS: dict[str, RefusalKind] = {
    "23505": "duplicate",  # unique_violation
    "23503": "foreign_key",  # foreign_key_violation
    "23502": "not_null",  # not_null_violation
}
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

    def integrity_refusal(
        self, orig: BaseException, statement: str | None = None, params: Any = None
    ) -> IntegrityRefusal | None:
        state = _state(orig)
        if state is None or not state.startswith("23"):  # class 23: integrity constraint violation
            return None
        # psycopg2 tells the constraint in its `diag`; asyncpg on its own exception, which
        # SQLAlchemy's adapted one keeps as its cause.
        told = getattr(orig, "diag", None) or orig.__cause__
        table = _text(getattr(told, "table_name", None))
        constraint = _text(getattr(told, "constraint_name", None))
        column = _text(getattr(told, "column_name", None))
        detail = _text(getattr(told, "message_detail", None) or getattr(told, "detail", None))
        columns = (column,) if column is not None else key_columns(detail or "")
        return IntegrityRefusal(_REFUSALS.get(state, "other"), table, constraint, columns)

    def error_kind(self, orig: BaseException) -> type[ToolkitError] | None:
        state = _state(orig)
        if state is None:
            return None
        # A data exception (a value the column cannot hold) or a program limit (an index entry
        # too large): the data is at fault, not the server.
        if state.startswith(("22", "54")):
            return ValidationError
        if state[:2] in _UNAVAILABLE_CLASSES or state in _UNFIT_SCHEMA:
            return BackendUnavailableError
        return None


def _state(orig: BaseException) -> str | None:
    """The SQLSTATE of a driver's exception: psycopg2 gives it as pgcode, asyncpg as sqlstate
    (SQLAlchemy maps asyncpg's server errors to a bare DBAPIError: the state tells them apart)."""
    return _text(getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def key_columns(detail: str) -> tuple[str, ...]:
    """The columns of a unique or foreign key violation's detail, ``Key (a, "B c")=(1, 2) ...``
    (the values are not read); none when the detail is not of that form."""
    if not detail.startswith("Key ("):
        return ()
    columns: list[str] = []
    name, quoted, position = "", False, len("Key (")
    while position < len(detail):
        char = detail[position]
        position += 1
        if quoted:
            if char == '"' and detail[position : position + 1] == '"':
                name, position = name + '"', position + 1  # a doubled quote: one in the name
            elif char == '"':
                quoted = False
            else:
                name += char
        elif char == '"':
            quoted = True
        elif char in ",)":
            columns.append(name.strip())
            name = ""
            if char == ")":
                return tuple(columns) if detail[position : position + 1] == "=" else ()
        else:
            name += char
    return ()


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
