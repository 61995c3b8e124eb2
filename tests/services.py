"""The real services the tests run against: a fresh PostgreSQL database, SQLite files."""

from __future__ import annotations

import os
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import redis
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from toolkit._model import model_facts
from toolkit.config import Settings
from toolkit.repositories.redis._keys import redis_keys
from toolkit.repositories.sql._postgres import POSTGRES
from toolkit.repositories.sql._sqlite import SQLITE

ADMIN_URL_ENV = "TOOLKIT_TEST_POSTGRES_ADMIN_URL"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create a database of its own on the running server; yield its async URL; drop it."""
    admin_url = make_url(os.environ.get(ADMIN_URL_ENV, DEFAULT_ADMIN_URL))
    name = f"toolkit_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg2.connect(
            host=admin_url.host,
            port=admin_url.port or 5432,
            user=admin_url.username,
            password=admin_url.password,
            dbname=admin_url.database,
            connect_timeout=5,
        )
    except psycopg2.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL is not reachable at {admin_url.host}:{admin_url.port or 5432} "
            f"({exc}). Start it (pg_ctlcluster 15 main start) or set {ADMIN_URL_ENV}."
        ) from exc
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield admin_url.set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def reset_tables(sync_url: str) -> None:
    """Create every model table that is missing and empty them all, children before parents.

    Engines remember which tables they made sure of; a test that drops one must not leave the
    next test without it.
    """
    engine: Engine = create_engine(sync_url)
    try:
        with engine.begin() as connection:
            SQLModel.metadata.create_all(connection, checkfirst=True)
            for table in reversed(SQLModel.metadata.sorted_tables):
                connection.execute(table.delete())
    finally:
        engine.dispose()


def free_port() -> int:
    """A loopback TCP port that nothing listens on (at the time of asking)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server that completes the handshake and then never answers; yields its port."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)  # the kernel accepts connections; nobody ever reads or replies
        port: int = server.getsockname()[1]
        yield port


@contextmanager
def locked_sqlite_database(path: str) -> Iterator[None]:
    """Hold the write lock of the SQLite file at ``path``: other writers wait on it."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def drop_table(settings: Settings, backend: str, model: type[SQLModel]) -> None:
    """Drop ``model``'s table (and what references it) from the backend's database.

    On Redis: its search index and its documents.
    """
    if backend == "redis":
        _drop_redis_table(settings, model)
        return
    dialect = POSTGRES if backend == "postgres" else SQLITE
    engine = create_engine(dialect.url(settings, is_async=False))
    try:
        doomed = {model_facts(model).table}
        for candidate in SQLModel.metadata.sorted_tables:  # parents come before children
            if any(fk.column.table in doomed for fk in candidate.foreign_keys):
                doomed.add(candidate)
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table in doomed:
                table.drop(engine, checkfirst=True)
    finally:
        engine.dispose()


def _drop_redis_table(settings: Settings, model: type[SQLModel]) -> None:
    keys = redis_keys(settings.redis_key_prefix, model_facts(model).table.name)
    client = redis.Redis.from_url(settings.redis_url.get_secret_value(), decode_responses=True)
    try:
        try:
            client.execute_command("FT.DROPINDEX", keys.index)
        except redis.ResponseError as exc:
            if "unknown index" not in str(exc).lower():
                raise
        for pattern in (f"{keys.documents}*", f"{keys.meta}*"):
            for key in client.scan_iter(match=pattern, count=1000):
                client.delete(key)
    finally:
        client.close()
