"""The async path from several event loops in one process, one after another and side by side.

Each loop gets engines of its own and closes their connections when it ends. Which connections
are open is read from outside the toolkit: PostgreSQL's ``pg_stat_activity`` for the test
database, and for SQLite the process's file descriptors on the database file.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest
import redis
from sqlalchemy.engine import make_url

from models import Hero
from toolkit.config import Settings
from toolkit.storage_dependencies import dispose_engines, get_provider

_FD_DIR = "/proc/self/fd"


def _postgres_backend_pids(settings: Settings) -> set[int]:
    """The server processes connected to the test database, other than this query's own."""
    url = make_url(settings.postgres_url.get_secret_value())
    connection = psycopg2.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        dbname=url.database,
        connect_timeout=5,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (url.database,),
            )
            return {int(row[0]) for row in cursor.fetchall()}
    finally:
        connection.close()


def _sqlite_file_descriptors(settings: Settings) -> set[int]:
    """This process's open file descriptors on the SQLite database file."""
    database = make_url(settings.sqlite_url.get_secret_value()).database
    assert database, "the tests use a SQLite file, not an in-memory database"
    path = os.path.realpath(database)
    found: set[int] = set()
    for entry in os.scandir(_FD_DIR):
        try:
            target = os.readlink(entry.path)
        except OSError:  # closed between listing and reading
            continue
        if target == path:
            found.add(int(entry.name))
    return found


def open_connections(settings: Settings) -> set[int]:
    """Ids of the connections open to ``settings.backend``: server pids or file descriptors."""
    if settings.backend == "postgres":
        return _postgres_backend_pids(settings)
    if settings.backend == "redis":
        return _redis_client_ids(settings)
    if not os.path.isdir(_FD_DIR):
        pytest.skip(f"counting SQLite connections needs {_FD_DIR}")
    return _sqlite_file_descriptors(settings)


def _redis_client_ids(settings: Settings) -> set[int]:
    """Ids of the server's client connections, the observer's own left out."""
    observer = redis.Redis.from_url(settings.redis_url.get_secret_value(), decode_responses=True)
    try:
        own = int(observer.client_id())
        return {int(client["id"]) for client in observer.client_list()} - {own}
    finally:
        observer.close()


def still_open(settings: Settings, opened: set[int], timeout: float = 5.0) -> set[int]:
    """Those of ``opened`` still open once they are closed or ``timeout`` has passed.

    A PostgreSQL server process leaves ``pg_stat_activity`` shortly after its client hangs up,
    not at once: wait for it, briefly.
    """
    deadline = time.monotonic() + timeout
    while True:
        remaining = opened & open_connections(settings)
        if not remaining or time.monotonic() > deadline:
            return remaining
        time.sleep(0.02)


@contextmanager
def no_warnings_recorded() -> Iterator[list[warnings.WarningMessage]]:
    """Record every warning (unclosed connections' ResourceWarnings among them) for the block.

    Garbage is collected before the block (what earlier tests left is not this block's) and at
    its end (so that whatever the block left unclosed warns now).
    """
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
        gc.collect()


def describe(caught: list[warnings.WarningMessage]) -> list[str]:
    return [f"{warning.category.__name__}: {warning.message}" for warning in caught]


async def add_and_list(settings: Settings, name: str) -> list[str]:
    """Create a hero named ``name`` on a provider of its own; return every hero's name."""
    async with get_provider(settings=settings) as provider:
        heroes = provider.get_repository(Hero)
        await heroes.create(Hero(name=name, secret_name=f"{name} secret"))
        return [hero.name for hero in await heroes.list()]


async def names(settings: Settings) -> list[str]:
    async with get_provider(settings=settings) as provider:
        return [hero.name for hero in await provider.get_repository(Hero).list()]


def test_one_loop_after_another_each_create_and_read(settings: Settings) -> None:
    async def second_loop() -> list[str]:
        first = await add_and_list(settings, "second")
        await dispose_engines()  # closes this loop's engines; the next use makes new ones
        assert first == ["first", "second"]
        return await add_and_list(settings, "second again")

    with no_warnings_recorded() as caught:
        assert asyncio.run(add_and_list(settings, "first")) == ["first"]
        assert asyncio.run(second_loop()) == ["first", "second", "second again"]
        assert asyncio.run(add_and_list(settings, "third")) == [
            "first",
            "second",
            "second again",
            "third",
        ]
        assert asyncio.run(names(settings)) == ["first", "second", "second again", "third"]

    assert describe(caught) == []


def test_a_loop_closes_the_connections_it_opened_when_it_ends(settings: Settings) -> None:
    before = open_connections(settings)

    async def use_then_look() -> set[int]:
        assert await add_and_list(settings, "pooled") == ["pooled"]
        # The provider is closed, its connection back in this loop's pool: still open.
        return open_connections(settings)

    with no_warnings_recorded() as caught:
        opened = asyncio.run(use_then_look()) - before
        assert len(opened) >= 1, "the loop's pool should have kept its connection while it ran"
        assert still_open(settings, opened) == set()

    assert describe(caught) == []
    assert asyncio.run(names(settings)) == ["pooled"]


def test_dispose_engines_closes_the_running_loops_connections_and_later_use_reopens(
    settings: Settings,
) -> None:
    before = open_connections(settings)

    async def scenario() -> tuple[set[int], set[int], list[str], set[int]]:
        await add_and_list(settings, "before dispose")
        opened = open_connections(settings) - before
        await dispose_engines()
        left_open = still_open(settings, opened)
        after = await add_and_list(settings, "after dispose")
        reopened = open_connections(settings) - before
        return opened, left_open, after, reopened

    with no_warnings_recorded() as caught:
        opened, left_open, after, reopened = asyncio.run(scenario())
        assert len(opened) >= 1
        assert left_open == set()
        assert after == ["before dispose", "after dispose"]
        assert len(reopened) >= 1
        assert still_open(settings, reopened) == set()

    assert describe(caught) == []


def test_loops_in_concurrent_threads_each_use_engines_of_their_own(settings: Settings) -> None:
    asyncio.run(names(settings))  # the tables exist before the threads race to use them
    before = open_connections(settings)
    results: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def run_loop(name: str) -> None:
        try:
            results[name] = asyncio.run(add_and_list(settings, name))
        except BaseException as exc:  # reported by the test thread below
            errors.append(exc)

    thread_names = [f"thread {i}" for i in range(4)]
    with no_warnings_recorded() as caught:
        threads = [threading.Thread(target=run_loop, args=(name,)) for name in thread_names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert sorted(results) == thread_names
        for name, seen in results.items():
            assert name in seen
        assert sorted(asyncio.run(names(settings))) == thread_names
        assert still_open(settings, open_connections(settings) - before) == set()

    assert describe(caught) == []
