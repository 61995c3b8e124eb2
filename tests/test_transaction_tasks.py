"""Tasks started inside a transaction are part of it (they copy the block's context), on every
backend: ``asyncio.gather`` of writes inside a block neither escapes the unit nor waits forever
for the block that waits for it."""

from __future__ import annotations

import asyncio

import pytest

from models import Owner
from toolkit.config import Settings
from toolkit.storage_dependencies import get_provider


class Boom(Exception):
    pass


async def test_writes_of_tasks_started_inside_a_transaction_roll_back_with_it(
    settings: Settings,
) -> None:
    async with get_provider(settings=settings) as provider:
        owners = provider.get_repository(Owner)

        async def block() -> None:
            async with provider.transaction():
                await asyncio.gather(
                    *(
                        owners.create(Owner(full_name=name, email=f"{name}@example.com"))
                        for name in ("ada", "grace", "alan")
                    )
                )
                raise Boom

        with pytest.raises(Boom):
            await asyncio.wait_for(block(), 30)
        assert await owners.count() == 0

        async with provider.transaction():
            made = await asyncio.gather(
                *(
                    owners.create(Owner(full_name=name, email=f"{name}@example.com"))
                    for name in ("ada", "grace")
                )
            )
        assert sorted(owner.full_name for owner in await owners.list()) == ["ada", "grace"]
        assert len(made) == 2


async def test_nested_blocks_of_gathered_tasks_each_undo_only_their_own_writes(
    settings: Settings,
) -> None:
    async with get_provider(settings=settings) as provider:
        owners = provider.get_repository(Owner)

        async def attempt(index: int) -> None:
            async with provider.transaction():
                await owners.create(Owner(full_name=f"n{index}", email=f"n{index}@example.com"))
                await asyncio.sleep(0)  # let the siblings run meanwhile
                if index % 5 == 0:
                    raise Boom

        async with provider.transaction():
            outcomes = await asyncio.gather(
                *(attempt(index) for index in range(20)), return_exceptions=True
            )

        assert [isinstance(outcome, Boom) for outcome in outcomes] == [
            index % 5 == 0 for index in range(20)
        ]
        names = sorted(owner.full_name for owner in await owners.list())
        assert names == sorted(f"n{index}" for index in range(20) if index % 5)


async def test_a_task_that_outlives_its_block_writes_on_its_own(settings: Settings) -> None:
    async with get_provider(settings=settings) as provider:
        owners = provider.get_repository(Owner)
        go = asyncio.Event()

        async def stray() -> None:
            await go.wait()
            await owners.create(Owner(full_name="stray", email="stray@example.com"))

        async with provider.transaction():
            task = asyncio.create_task(stray())

        async def next_block() -> None:
            async with provider.transaction():
                await owners.create(Owner(full_name="undone", email="undone@example.com"))
                go.set()
                await asyncio.sleep(0.05)
                raise Boom

        with pytest.raises(Boom):
            await next_block()
        await asyncio.wait_for(task, 30)

        assert [owner.full_name for owner in await owners.list()] == ["stray"]


async def test_a_siblings_call_waits_for_a_nested_block_it_is_not_part_of(
    settings: Settings,
) -> None:
    async with get_provider(settings=settings) as provider:
        owners = provider.get_repository(Owner)
        inside = asyncio.Event()

        async def nested() -> None:
            async with provider.transaction():
                await owners.create(Owner(full_name="undone", email="undone@example.com"))
                inside.set()
                await asyncio.sleep(0.1)  # the sibling's write waits meanwhile
                raise Boom

        async def nested_that_fails() -> None:
            with pytest.raises(Boom):
                await nested()

        async def sibling() -> None:
            await inside.wait()
            await owners.create(Owner(full_name="sibling", email="sibling@example.com"))

        async with provider.transaction():
            await asyncio.gather(nested_that_fails(), sibling())

        assert [owner.full_name for owner in await owners.list()] == ["sibling"]
