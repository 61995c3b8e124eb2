"""The real services the tests run against: a fresh PostgreSQL database, SQLite files."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

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


def empty_all_tables(sync_url: str) -> None:
    """Delete every row of every model table that exists, children before parents."""
    engine: Engine = create_engine(sync_url)
    try:
        existing = set(inspect(engine).get_table_names())
        with engine.begin() as connection:
            for table in reversed(SQLModel.metadata.sorted_tables):
                if table.name in existing:
                    connection.execute(table.delete())
    finally:
        engine.dispose()
