"""Fixtures: every backend the conformance suite runs on, each against a real service."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url

import models  # noqa: F401  (registers the domain tables in SQLModel.metadata)
from tests.redis_server import redis_stack_server
from tests.services import (
    free_port,
    fresh_postgres_database,
    locked_sqlite_database,
    reset_tables,
    silent_server,
)
from toolkit.config import Settings, UrlField
from toolkit.repositories.sql._postgres import POSTGRES
from toolkit.repositories.sql._sqlite import SQLITE

SQL_BACKENDS = ["postgres", "sqlite"]
BACKENDS = [*SQL_BACKENDS, "redis"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The async URL of a fresh database, dropped at the end of the session."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "toolkit.db"
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis with RedisJSON and RediSearch, started for the session on a free port."""
    with redis_stack_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def base_settings(postgres_url: str, sqlite_url: str, redis_url: str) -> Settings:
    """Settings naming the test services, with short timeouts."""
    return Settings(
        postgres_url=postgres_url,
        sqlite_url=sqlite_url,
        redis_url=redis_url,
        connect_timeout=3.0,
        command_timeout=10.0,
    )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test; each test that uses it runs once per backend."""
    name: str = request.param
    return name


@pytest.fixture
def settings(base_settings: Settings, backend: str) -> Settings:
    """Settings for ``backend``, whose tables start empty.

    SQL tables are emptied; on Redis each test gets a key prefix of its own instead (so indexes
    are made anew too, as on a fresh server).
    """
    chosen = base_settings.replace(backend=backend)
    if backend == "redis":
        return chosen.replace(redis_key_prefix=f"t{uuid.uuid4().hex[:10]}")
    dialect = POSTGRES if backend == "postgres" else SQLITE
    sync_url = dialect.url(chosen, is_async=False).render_as_string(hide_password=False)
    reset_tables(sync_url)
    return chosen


SECRET = "s3cret-pw"
"""A password put in URLs that errors must never show."""


@pytest.fixture
def unreachable_settings(settings: Settings, backend: str, tmp_path: Path) -> Settings:
    """Settings whose backend cannot be reached: a closed port, a file in a missing folder."""
    if backend == "postgres":
        return settings.replace(
            postgres_url=f"postgresql+asyncpg://postgres:{SECRET}@127.0.0.1:{free_port()}/x",
            connect_timeout=2.0,
        )
    if backend == "redis":
        return settings.replace(
            redis_url=f"redis://:{SECRET}@127.0.0.1:{free_port()}/0", connect_timeout=2.0
        )
    return settings.replace(sqlite_url=f"sqlite+aiosqlite:///{tmp_path}/missing/folder/x.db")


@pytest.fixture
def hanging(settings: Settings, backend: str) -> Callable[[], AbstractContextManager[Settings]]:
    """Enter to get settings whose backend accepts the connection and never answers
    (PostgreSQL), or whose database another connection keeps locked for writing (SQLite)."""

    @contextmanager
    def hang() -> Iterator[Settings]:
        if backend == "postgres":
            with silent_server() as port:
                yield settings.replace(
                    postgres_url=f"postgresql+asyncpg://postgres:{SECRET}@127.0.0.1:{port}/x",
                    connect_timeout=2.0,
                )
        elif backend == "redis":
            with silent_server() as port:
                yield settings.replace(
                    redis_url=f"redis://:{SECRET}@127.0.0.1:{port}/0",
                    connect_timeout=2.0,
                    # The default (30 s), not the suite's: failing fast is connect_timeout's job.
                    command_timeout=Settings().command_timeout,
                )
        else:
            database = make_url(settings.sqlite_url.get_secret_value()).database or ""
            with locked_sqlite_database(database):
                yield settings.replace(command_timeout=1.0)

    return hang


@pytest.fixture
def malformed_urls(backend: str) -> list[str]:
    """URLs the backend must refuse with `ConfigurationError`, each holding `SECRET`."""
    if backend == "postgres":
        return [
            f"postgresql+asyncpg://postgres:{SECRET}@127.0.0.1:notaport/x",
            f"mysql://postgres:{SECRET}@127.0.0.1:3306/x",
            f"not a url at all {SECRET}",
        ]
    if backend == "redis":
        return [
            f"redis://:{SECRET}@127.0.0.1:notaport/0",
            f"http://:{SECRET}@127.0.0.1:6379/0",
            f"redis://:{SECRET}@127.0.0.1:6379/3",
            f"redis://:{SECRET}@127.0.0.1:6379/0?db=2",
            f"not a url at all {SECRET}",
        ]
    return [
        f"sqlite+aiosqlite://user:{SECRET}@somehost:99/x.db",
        f"postgresql://user:{SECRET}@127.0.0.1/x",
        f"::{SECRET}::",
    ]


def url_field(backend: str) -> UrlField:
    fields: dict[str, UrlField] = {
        "postgres": "postgres_url",
        "sqlite": "sqlite_url",
        "redis": "redis_url",
    }
    return fields[backend]


def location(settings: Settings, backend: str) -> str:
    """How errors name where the backend is: host and port, or the SQLite file."""
    if backend == "redis":
        parts = urlsplit(settings.redis_url.get_secret_value())
        return f"{parts.hostname}:{parts.port}"
    given = settings.postgres_url if backend == "postgres" else settings.sqlite_url
    url = make_url(given.get_secret_value())
    return f"{url.host}:{url.port}" if backend == "postgres" else str(url.database)


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """The statements every engine runs while the test does (async engines run on a sync one)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)
