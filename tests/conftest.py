"""Fixtures: every backend the conformance suite runs on, each against a real service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import models  # noqa: F401  (registers the domain tables in SQLModel.metadata)
from tests.services import empty_all_tables, fresh_postgres_database
from toolkit.config import Settings
from toolkit.repositories.postgres_repo import POSTGRES
from toolkit.repositories.sqlite_repo import SQLITE

SQL_BACKENDS = ["postgres", "sqlite"]


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
def base_settings(postgres_url: str, sqlite_url: str) -> Settings:
    """Settings naming the test services, with short timeouts."""
    return Settings(
        postgres_url=postgres_url,
        sqlite_url=sqlite_url,
        connect_timeout=3.0,
        command_timeout=10.0,
    )


@pytest.fixture(params=SQL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test; each test that uses it runs once per backend."""
    name: str = request.param
    return name


@pytest.fixture
def settings(base_settings: Settings, backend: str) -> Settings:
    """Settings for ``backend``, whose tables start empty."""
    chosen = base_settings.replace(backend=backend)
    dialect = POSTGRES if backend == "postgres" else SQLITE
    sync_url = dialect.url(chosen, is_async=False).render_as_string(hide_password=False)
    empty_all_tables(sync_url)
    return chosen
