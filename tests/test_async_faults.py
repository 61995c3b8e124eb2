"""Async-only faults: cancelled calls, one provider shared by tasks, in-memory SQLite."""

from __future__ import annotations

import asyncio

import pytest

from models import Team
from tests.conftest import SQL_BACKENDS
from toolkit.config import Settings
from toolkit.errors import ConflictError
from toolkit.storage_dependencies import get_provider


@pytest.fixture(params=SQL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


async def test_a_provider_recovers_after_a_cancelled_call(settings: Settings) -> None:
    async with get_provider(settings=settings) as provider:
        teams = provider.get_repository(Team)
        await teams.list()
        batch = [Team(name=f"cancelled {i}") for i in range(3_000)]
        task = asyncio.ensure_future(teams.create_many(batch))
        await asyncio.sleep(0.01)  # let it start talking to the database
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

        after = await teams.create(Team(name="after the cancel"))
        names = [team.name for team in await teams.list()]

    assert names in (["after the cancel"], [*(t.name for t in batch), after.name])


async def test_tasks_sharing_one_provider_take_turns(settings: Settings) -> None:
    async with get_provider(settings=settings) as provider:
        teams = provider.get_repository(Team)

        async def create(index: int) -> str:
            return (await teams.create(Team(name=f"team {index}"))).name

        names = await asyncio.gather(*(create(i) for i in range(20)))
        stored = sorted(team.name for team in await teams.list())

    assert sorted(names) == stored
    assert len(stored) == 20


async def test_a_failing_batch_and_a_write_of_another_task_on_one_provider(
    settings: Settings,
) -> None:
    async with get_provider(settings=settings) as provider:
        teams = provider.get_repository(Team)
        bad = [Team(name=f"batch {i}") for i in range(2_000)] + [Team(name="batch 0")]

        async def batch() -> None:
            with pytest.raises(ConflictError):
                await teams.create_many(bad)

        async def single() -> str:
            return (await teams.create(Team(name="independent"))).name

        _, name = await asyncio.gather(batch(), single())
        stored = [team.name for team in await teams.list()]

    assert stored == [name]


async def test_providers_of_one_in_memory_database_take_turns() -> None:
    memory = Settings(backend="sqlite", sqlite_url="sqlite+aiosqlite://", pool_timeout=10.0)

    async def batch(label: str, duplicate: bool) -> list[str]:
        async with get_provider(settings=memory) as provider:
            teams = provider.get_repository(Team)
            rows = [Team(name=f"{label} {i}") for i in range(1_000)]
            if duplicate:
                rows.append(Team(name=f"{label} 0"))
            try:
                return [team.name for team in await teams.create_many(rows)]
            except ConflictError:
                return []

    written = await asyncio.gather(batch("good", False), batch("bad", True), batch("also", False))
    async with get_provider(settings=memory) as provider:
        stored = sorted(team.name for team in await provider.get_repository(Team).list())

    assert written[1] == []
    assert stored == sorted(written[0] + written[2])
    assert len(stored) == 2_000
