"""No update is lost: read-modify-write of one `Versioned` row from many writers, on every
backend, from async tasks and from threads, with `update` and with `patch` of two fields.

Each attempt is what a request of a web application does: open a provider, read the row, write
it back changed, close. A stale copy raises `StaleVersionError` and the writer tries again, so
the row's final count must equal the number of writes that succeeded.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from models import Owner
from tests.unit_models import Tally
from toolkit import StaleVersionError
from toolkit.config import Settings
from toolkit.storage_dependencies import get_provider
from toolkit.sync_storage_dependencies import get_sync_provider

TASKS = 50
THREADS = 8
TIMES = 25


async def create_tally(settings: Settings) -> int:
    async with get_provider(settings=settings) as provider:
        created = await provider.get_repository(Tally).create(Tally())
        return created.id or 0


async def read_tally(settings: Settings, id: int) -> Tally:
    async with get_provider(settings=settings) as provider:
        return await provider.get_repository(Tally).get_one(id)


def pooled(settings: Settings) -> Settings:
    """Five connections, the attempts queueing for them: the pool's queue is fair, where
    SQLite's busy handler lets a writer starve past the command timeout under heavy load."""
    return settings.replace(pool_size=5, max_overflow=0, pool_timeout=60)


async def count_async(settings: Settings, id: int, field: str, patch: bool) -> tuple[int, int]:
    """Add one to ``field`` TIMES times; (successes, stale attempts)."""
    settings = pooled(settings)
    done = stale = 0
    while done < TIMES:
        async with get_provider(settings=settings) as provider:
            tallies = provider.get_repository(Tally)
            current = await tallies.get_one(id)
            value = getattr(current, field) + 1
            try:
                if patch:
                    await tallies.patch(id, {field: value, "version": current.version})
                else:
                    await tallies.update(current.model_copy(update={field: value}))
            except StaleVersionError:
                stale += 1
                continue
            done += 1
    return done, stale


def count_sync(settings: Settings, id: int, field: str, patch: bool) -> tuple[int, int]:
    settings = pooled(settings)
    done = stale = 0
    while done < TIMES:
        with get_sync_provider(settings=settings) as provider:
            tallies = provider.get_repository(Tally)
            current = tallies.get_one(id)
            value = getattr(current, field) + 1
            try:
                if patch:
                    tallies.patch(id, {field: value, "version": current.version})
                else:
                    tallies.update(current.model_copy(update={field: value}))
            except StaleVersionError:
                stale += 1
                continue
            done += 1
    return done, stale


async def test_updates_from_50_tasks_lose_nothing(settings: Settings) -> None:
    id = await create_tally(settings)

    results = await asyncio.gather(
        *(count_async(settings, id, "hits", False) for _ in range(TASKS))
    )

    final = await read_tally(settings, id)
    assert final.hits == sum(done for done, _ in results) == TASKS * TIMES
    assert final.version == 1 + TASKS * TIMES
    assert sum(stale for _, stale in results) > 0  # the writers did overlap


async def test_patches_of_two_fields_from_two_groups_of_tasks_lose_nothing(
    settings: Settings,
) -> None:
    id = await create_tally(settings)

    results = await asyncio.gather(
        *(count_async(settings, id, "hits" if i % 2 else "misses", True) for i in range(TASKS))
    )

    final = await read_tally(settings, id)
    assert (final.hits, final.misses) == (TASKS // 2 * TIMES, TASKS // 2 * TIMES)
    assert final.version == 1 + sum(done for done, _ in results)


async def test_updates_from_8_threads_lose_nothing(settings: Settings) -> None:
    id = await create_tally(settings)

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda _: count_sync(settings, id, "hits", False), range(THREADS)))

    final = await read_tally(settings, id)
    assert final.hits == sum(done for done, _ in results) == THREADS * TIMES
    assert final.version == 1 + THREADS * TIMES


async def test_patches_of_two_fields_from_two_groups_of_threads_lose_nothing(
    settings: Settings,
) -> None:
    id = await create_tally(settings)

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(
            pool.map(
                lambda i: count_sync(settings, id, "hits" if i % 2 else "misses", True),
                range(THREADS),
            )
        )

    final = await read_tally(settings, id)
    assert (final.hits, final.misses) == (THREADS // 2 * TIMES, THREADS // 2 * TIMES)
    assert final.version == 1 + sum(done for done, _ in results)


async def test_concurrent_patches_of_different_fields_of_an_unversioned_row_both_survive(
    settings: Settings,
) -> None:
    async with get_provider(settings=settings) as provider:
        owner = await provider.get_repository(Owner).create(
            Owner(full_name="start", email="start@example.com")
        )
    rounds = 100

    async def writer(field: str) -> None:
        for i in range(1, rounds + 1):
            async with get_provider(settings=settings) as provider:
                value = f"name {i}" if field == "full_name" else f"e{i}@example.com"
                await provider.get_repository(Owner).patch(owner.id or 0, {field: value})

    await asyncio.gather(writer("full_name"), writer("email"))

    async with get_provider(settings=settings) as provider:
        final = await provider.get_repository(Owner).get_one(owner.id or 0)
    assert (final.full_name, final.email) == (f"name {rounds}", f"e{rounds}@example.com")
