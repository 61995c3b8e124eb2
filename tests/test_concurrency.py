"""Concurrent writers on every backend, async and sync: uniqueness holds under contention.

Each writer has a provider (so a connection) of its own, makes its table ready, then waits at a
barrier so that all of them write at the same moment.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from models import Hero, Power, Team
from toolkit.config import Settings
from toolkit.errors import ConflictError, ConstraintError
from toolkit.storage_dependencies import get_provider
from toolkit.sync_storage_dependencies import get_sync_provider

WRITERS = 20


def roomy(settings: Settings) -> Settings:
    """``settings`` with a pool that lets every writer hold a connection at once."""
    return settings.replace(pool_size=WRITERS + 5, max_overflow=5, pool_timeout=60)


async def race_async(settings: Settings, make: Callable[[int], Team]) -> list[Team | ConflictError]:
    """Run WRITERS async creates of ``make(i)`` at once; each one's result or ConflictError."""
    barrier = asyncio.Barrier(WRITERS)

    async def writer(index: int) -> Team | ConflictError:
        async with get_provider(settings=settings) as provider:
            teams = provider.get_repository(Team)
            await teams.list()  # takes the connection; the table (or index) is ready
            await barrier.wait()
            try:
                return await teams.create(make(index))
            except ConflictError as exc:
                return exc

    return list(await asyncio.gather(*(writer(index) for index in range(WRITERS))))


def race_sync(settings: Settings, make: Callable[[int], Team]) -> list[Team | ConflictError]:
    """Run WRITERS sync creates of ``make(i)`` in as many threads at once."""
    barrier = threading.Barrier(WRITERS, timeout=60)

    def writer(index: int) -> Team | ConflictError:
        with get_sync_provider(settings=settings) as provider:
            teams = provider.get_repository(Team)
            teams.list()
            barrier.wait()
            try:
                return teams.create(make(index))
            except ConflictError as exc:
                return exc

    with ThreadPoolExecutor(WRITERS) as pool:
        return list(pool.map(writer, range(WRITERS)))


def assert_one_winner(results: list[Team | ConflictError], stored: list[Team]) -> None:
    winners = [result for result in results if isinstance(result, Team)]
    losers = [result for result in results if isinstance(result, ConflictError)]
    assert len(results) == WRITERS
    assert len(winners) == 1, f"{len(winners)} writers created the same unique value"
    assert len(losers) == WRITERS - 1
    assert stored == winners


def assert_all_created(results: list[Team | ConflictError], stored: list[Team]) -> None:
    created = [result for result in results if isinstance(result, Team)]
    assert len(created) == WRITERS, [r for r in results if not isinstance(r, Team)]
    ids = [team.id for team in created if team.id is not None]
    assert len(ids) == WRITERS  # every one generated
    assert len(set(ids)) == WRITERS  # and distinct
    assert [team.id for team in stored] == sorted(ids)
    assert sorted(stored, key=lambda team: team.name) == sorted(created, key=lambda t: t.name)


async def stored_teams_async(settings: Settings) -> list[Team]:
    async with get_provider(settings=settings) as provider:
        return await provider.get_repository(Team).list()


def stored_teams_sync(settings: Settings) -> list[Team]:
    with get_sync_provider(settings=settings) as provider:
        return provider.get_repository(Team).list()


async def orphan_race_async(settings: Settings) -> tuple[list[Power | ConstraintError], bool]:
    """WRITERS - 1 async creates of powers of one hero while one more writer deletes the hero."""
    async with get_provider(settings=settings) as provider:
        hero = await provider.get_repository(Hero).create(Hero(name="Doomed", secret_name="d"))
    barrier = asyncio.Barrier(WRITERS)

    async def add_power(index: int) -> Power | ConstraintError:
        async with get_provider(settings=settings) as provider:
            powers = provider.get_repository(Power)
            await powers.list()
            await barrier.wait()
            try:
                return await powers.create(Power(name=f"power {index}", hero_id=hero.id or 0))
            except ConstraintError as exc:
                return exc

    async def delete_hero() -> bool:
        async with get_provider(settings=settings) as provider:
            heroes = provider.get_repository(Hero)
            await heroes.list()
            await barrier.wait()
            await asyncio.sleep(0)  # let a few creates go first
            return await heroes.delete(hero.id or 0)

    deleted, *added = await asyncio.gather(
        delete_hero(), *(add_power(index) for index in range(WRITERS - 1))
    )
    assert isinstance(deleted, bool)
    return [result for result in added if not isinstance(result, bool)], deleted


def orphan_race_sync(settings: Settings) -> tuple[list[Power | ConstraintError], bool]:
    """The same with threads."""
    with get_sync_provider(settings=settings) as provider:
        hero = provider.get_repository(Hero).create(Hero(name="Doomed", secret_name="d"))
    barrier = threading.Barrier(WRITERS, timeout=60)

    def add_power(index: int) -> Power | ConstraintError:
        with get_sync_provider(settings=settings) as provider:
            powers = provider.get_repository(Power)
            powers.list()
            barrier.wait()
            try:
                return powers.create(Power(name=f"power {index}", hero_id=hero.id or 0))
            except ConstraintError as exc:
                return exc

    def delete_hero() -> bool:
        with get_sync_provider(settings=settings) as provider:
            heroes = provider.get_repository(Hero)
            heroes.list()
            barrier.wait()
            return heroes.delete(hero.id or 0)

    with ThreadPoolExecutor(WRITERS) as pool:
        deleting = pool.submit(delete_hero)
        added = list(pool.map(add_power, range(WRITERS - 1)))
        return added, deleting.result()


async def stored_powers_async(settings: Settings) -> list[Power]:
    async with get_provider(settings=settings) as provider:
        return await provider.get_repository(Power).list()


def stored_powers_sync(settings: Settings) -> list[Power]:
    with get_sync_provider(settings=settings) as provider:
        return provider.get_repository(Power).list()


def assert_no_orphans(
    added: list[Power | ConstraintError], deleted: bool, stored: list[Power]
) -> None:
    """The hero went with every power it had; a power created after that was refused."""
    assert deleted is True
    assert len(added) == WRITERS - 1
    assert all(isinstance(result, Power | ConstraintError) for result in added)
    assert stored == []  # every power created before the delete went with the hero


# --- async ---------------------------------------------------------------------------------------


async def test_async_writers_of_one_unique_value_let_exactly_one_win(settings: Settings) -> None:
    own = roomy(settings)

    results = await race_async(own, lambda index: Team(name="Contended", headquarters=str(index)))

    assert_one_winner(results, await stored_teams_async(own))


async def test_async_writers_of_one_primary_key_let_exactly_one_win(settings: Settings) -> None:
    own = roomy(settings)
    # The same explicit key, each writer with a unique name of its own.
    results = await race_async(own, lambda index: Team(id=77, name=f"claimant {index}"))

    assert_one_winner(results, await stored_teams_async(own))


async def test_async_writers_of_distinct_values_all_succeed(settings: Settings) -> None:
    own = roomy(settings)

    results = await race_async(own, lambda index: Team(name=f"team {index}"))

    assert_all_created(results, await stored_teams_async(own))


async def test_async_children_created_while_the_parent_is_deleted_leave_no_orphans(
    settings: Settings,
) -> None:
    own = roomy(settings)

    added, deleted = await orphan_race_async(own)

    assert_no_orphans(added, deleted, await stored_powers_async(own))


# --- sync ----------------------------------------------------------------------------------------


def test_sync_writers_of_one_unique_value_let_exactly_one_win(settings: Settings) -> None:
    own = roomy(settings)

    results = race_sync(own, lambda index: Team(name="Contended", headquarters=str(index)))

    assert_one_winner(results, stored_teams_sync(own))


def test_sync_writers_of_one_primary_key_let_exactly_one_win(settings: Settings) -> None:
    own = roomy(settings)

    results = race_sync(own, lambda index: Team(id=77, name=f"claimant {index}"))

    assert_one_winner(results, stored_teams_sync(own))


def test_sync_writers_of_distinct_values_all_succeed(settings: Settings) -> None:
    own = roomy(settings)

    results = race_sync(own, lambda index: Team(name=f"team {index}"))

    assert_all_created(results, stored_teams_sync(own))


def test_sync_children_created_while_the_parent_is_deleted_leave_no_orphans(
    settings: Settings,
) -> None:
    own = roomy(settings)

    added, deleted = orphan_race_sync(own)

    assert_no_orphans(added, deleted, stored_powers_sync(own))
