"""The engine that reads and changes a SQL schema: migrations (`toolkit.migrations`) and the
doctor's checks (`toolkit.doctor`), on the database the toolkit's settings name.

Sync driver (psycopg2, sqlite3) whatever form the URL was given in, so that both run the same
from a command line and from code inside an event loop; no pool: each is a single connection.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from toolkit.config import Settings
from toolkit.repositories.sql._dialect import SqlDialect
from toolkit.repositories.sql._postgres import POSTGRES
from toolkit.repositories.sql._sqlite import SQLITE

__all__ = ["SQL_DIALECTS", "schema_engine"]

SQL_DIALECTS: dict[str, SqlDialect] = {"postgres": POSTGRES, "sqlite": SQLITE}
"""The SQL backends, by their registry names."""


def schema_engine(dialect: SqlDialect, settings: Settings) -> tuple[URL, Engine]:
    """The sync URL of ``dialect``'s database under ``settings``, and an engine on it."""
    url = dialect.url(settings, is_async=False)
    return url, create_engine(url, poolclass=NullPool, connect_args=_connect_args(url, settings))


def _connect_args(url: URL, settings: Settings) -> dict[str, Any]:
    """How long to wait for the server, or for the SQLite file's lock. Unlike the toolkit's own
    connections, no statement timeout: building an index on a big table may take long. Nor
    SQLite's foreign keys: batch migrations copy tables, which they would cascade to children."""
    if url.get_backend_name() == "sqlite":
        return {"timeout": settings.command_timeout}
    if "connect_timeout" in url.query:
        return {}  # the URL's own wins: psycopg2 gives it to libpq as it is
    return {"connect_timeout": max(2, round(settings.connect_timeout))}  # libpq: at least 2
