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
