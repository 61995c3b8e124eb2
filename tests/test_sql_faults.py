"""SQL providers under faults: a provider survives a failed call, and loses no acknowledged write.

``test_sql_faults.py`` is the async source of ``test_sync_sql_faults.py``. SQL backends only:
these faults are made with the servers' own locks and sessions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from models import Hero, Team
from tests.conftest import SQL_BACKENDS
from toolkit.config import Settings
from toolkit.errors import BackendUnavailableError, ToolkitError, ValidationError
from toolkit.storage_dependencies import get_provider


@pytest.fixture(params=SQL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@contextmanager
def writes_blocked(settings: Settings) -> Iterator[None]:
    """Another session holds what a write to ``team`` needs, until the block ends."""
    if settings.backend == "postgres":
        url = make_url(settings.postgres_url.get_secret_value())
        locker = psycopg2.connect(
            host=url.host, port=url.port, user=url.username, dbname=url.database
        )
        try:
            with locker.cursor() as cursor:
                cursor.execute("LOCK TABLE team IN ACCESS EXCLUSIVE MODE")
            yield
        finally:
            locker.rollback()
            locker.close()
    else:
        path = make_url(settings.sqlite_url.get_secret_value()).database or ""
        writer = sqlite3.connect(path, isolation_level=None)
        try:
            writer.execute("BEGIN EXCLUSIVE")
            yield
        finally:
            writer.execute("ROLLBACK")
            writer.close()


async def test_a_provider_recovers_after_a_call_that_timed_out(settings: Settings) -> None:
    quick = settings.replace(command_timeout=1.0)
    async with get_provider(settings=quick) as provider:
        teams = provider.get_repository(Team)
        await teams.list()  # the table exists; the connection is taken
        with writes_blocked(settings), pytest.raises(BackendUnavailableError):
            await teams.create(Team(name="blocked"))

        created = await teams.create(Team(name="after the timeout"))

        assert [team.name for team in await teams.list()] == [created.name]


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # SQLite has no server
async def test_a_provider_recovers_after_its_server_session_was_killed(settings: Settings) -> None:
    async with get_provider(settings=settings) as provider:
        teams = provider.get_repository(Team)
        await teams.create(Team(name="before"))
        terminate_other_sessions(settings)
        with pytest.raises(BackendUnavailableError):
            await teams.list()  # its connection died with the session: reported, then dropped

        after = await teams.create(Team(name="after"))

        assert [team.name for team in await teams.list()] == ["before", after.name]


def terminate_other_sessions(settings: Settings) -> None:
    url = make_url(settings.postgres_url.get_secret_value())
    killer = psycopg2.connect(host=url.host, port=url.port, user=url.username, dbname=url.database)
    killer.autocommit = True
    try:
        with killer.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    finally:
        killer.close()


# A COMMIT that fails on a lock is SQLite's; PostgreSQL waits at the write instead.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_batch_whose_commit_fails_writes_nothing_and_later_writes_persist(
    settings: Settings,
) -> None:
    quick = settings.replace(command_timeout=0.5)
    path = make_url(settings.sqlite_url.get_secret_value()).database or ""
    async with get_provider(settings=quick) as provider:
        teams = provider.get_repository(Team)
        await teams.list()
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT * FROM team").fetchall()  # a read lock: COMMIT cannot finish
        try:
            with pytest.raises(BackendUnavailableError):
                await teams.create_many([Team(name="batch 1"), Team(name="batch 2")])
        finally:
            reader.execute("ROLLBACK")
            reader.close()
        await teams.create(Team(name="single, after"))

    async with get_provider(settings=settings) as provider:
        stored = [team.name for team in await provider.get_repository(Team).list()]

    assert stored == ["single, after"]


async def test_a_repository_of_a_closed_provider_refuses_calls(settings: Settings) -> None:
    async with get_provider(settings=settings) as provider:
        teams = provider.get_repository(Team)
        await teams.list()

    with pytest.raises(ToolkitError, match="closed"):
        await teams.create(Team(name="too late"))

    async with get_provider(settings=settings) as provider:
        assert await provider.get_repository(Team).list() == []


async def test_an_id_beyond_64_bits_is_a_validation_error(settings: Settings) -> None:
    async with get_provider(settings=settings) as provider:
        heroes = provider.get_repository(Hero)
        with pytest.raises(ValidationError):
            await heroes.create(Hero(id=2**63, name="huge id", secret_name="s"))

        assert await heroes.list() == []


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # SQLite stores NUL
async def test_a_nul_character_is_a_validation_error_on_postgres(settings: Settings) -> None:
    hero = Hero(name="nul \x00 inside", secret_name="s")
    async with get_provider(settings=settings) as provider:
        heroes = provider.get_repository(Hero)
        with pytest.raises(ValidationError):
            await heroes.create(hero)

        assert await heroes.list() == []


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_transaction_whose_connection_is_killed_leaves_nothing(settings: Settings) -> None:
    async with get_provider(settings=settings) as provider:
        teams = provider.get_repository(Team)
        await teams.list()

        async def killed_between_calls() -> None:
            async with provider.transaction():
                await teams.create(Team(name="in block 1"))
                await teams.create(Team(name="in block 2"))
                terminate_other_sessions(settings)
                await teams.create(Team(name="after the kill"))

        async def killed_before_commit() -> None:
            async with provider.transaction():
                await teams.create(Team(name="in block 3"))
                terminate_other_sessions(settings)

        with pytest.raises(BackendUnavailableError):
            await killed_between_calls()
        with pytest.raises(BackendUnavailableError):
            await killed_before_commit()
        after = await teams.create(Team(name="after"))  # the provider goes on

    async with get_provider(settings=settings) as provider:
        assert await provider.get_repository(Team).list() == [after]


# SQLite's block takes the write lock at its start (BEGIN IMMEDIATE): see the next test.
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_a_transaction_cut_short_by_a_timeout_leaves_nothing(settings: Settings) -> None:
    quick = settings.replace(command_timeout=1.0)
    async with get_provider(settings=quick) as provider:
        heroes = provider.get_repository(Hero)
        teams = provider.get_repository(Team)
        await teams.list()
        await heroes.list()

        async def block() -> None:
            async with provider.transaction():
                await heroes.create(Hero(name="in block", secret_name="s"))
                with writes_blocked(settings):
                    await teams.create(Team(name="blocked"))

        with pytest.raises(BackendUnavailableError):
            await block()
        assert await heroes.list() == []
        assert await teams.list() == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_transaction_that_cannot_take_the_write_lock_in_time_writes_nothing(
    settings: Settings,
) -> None:
    quick = settings.replace(command_timeout=1.0)
    async with get_provider(settings=quick) as provider:
        teams = provider.get_repository(Team)
        await teams.list()

        async def block() -> None:
            async with provider.transaction():
                await teams.create(Team(name="never"))

        with writes_blocked(settings), pytest.raises(BackendUnavailableError):
            await block()
        assert await teams.list() == []
