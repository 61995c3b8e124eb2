"""A SQL transaction cancelled part-way is applied in none of its parts, and the provider goes
on serving. (Redis: ``tests/test_redis_units.py``.)

On SQLite (aiosqlite), a statement cancelled while it runs leaves its sqlite3 connection closed
but not yet finalized: its write lock lasts until the garbage collector frees the cancelled
statement, so this test does not write again right after the cancellation.
"""

from __future__ import annotations

import asyncio

import pytest

from models import Hero, Team
from tests.conftest import SQL_BACKENDS
from toolkit.config import Settings
from toolkit.storage_dependencies import get_provider


@pytest.fixture(params=SQL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


async def test_a_cancelled_transaction_leaves_nothing(settings: Settings) -> None:
    async with get_provider(settings=settings) as provider:
        heroes = provider.get_repository(Hero)
        teams = provider.get_repository(Team)
        await teams.list()
        await heroes.list()
        inside, never = asyncio.Event(), asyncio.Event()

        async def block() -> None:
            async with provider.transaction():
                await heroes.create(Hero(name="in block", secret_name="s"))
                inside.set()
                await teams.create_many([Team(name=f"team {i}") for i in range(20_000)])
                await never.wait()  # the cancellation lands inside the block, wherever

        task = asyncio.create_task(block())
        await inside.wait()
        await asyncio.sleep(0.05)  # most likely while the batch is being written
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        assert await heroes.list() == []  # the provider goes on, on a new connection
        assert await teams.list() == []
