"""``load=`` costs one query per relationship, never one per row: counted on SQL through the
engine's events (every statement a connection runs), async and sync. Redis counts its commands
in ``tests/test_redis_units.py``."""

from __future__ import annotations

import pytest

from models import Owner, Wallet
from tests.conftest import SQL_BACKENDS
from toolkit.config import Settings
from toolkit.storage_dependencies import get_provider
from toolkit.sync_storage_dependencies import get_sync_provider

ROWS = 1_000


@pytest.fixture(params=SQL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


async def fill(settings: Settings) -> Owner:
    async with get_provider(settings=settings) as provider:
        owners = provider.get_repository(Owner)
        wallets = provider.get_repository(Wallet)
        made = await owners.create_many(
            [Owner(full_name=f"o{i}", email=f"o{i}@example.com") for i in range(10)]
        )
        await wallets.create_many(
            [Wallet(label=f"w{i}", owner_id=made[i % 10].id or 0) for i in range(ROWS)]
        )
        return made[0]


def selects(statements: list[str]) -> list[str]:
    return [text for text in statements if text.lstrip().upper().startswith("SELECT")]


async def test_list_with_load_of_1000_rows_runs_two_queries(
    settings: Settings, statements: list[str]
) -> None:
    first = await fill(settings)
    async with get_provider(settings=settings) as provider:
        wallets = provider.get_repository(Wallet)
        await wallets.count()  # the connection taken, the tables known
        statements.clear()

        found = await wallets.list(load=[Wallet.owner])

        assert len(statements) == 2, statements
        assert len(found) == ROWS
        assert found[0].owner == first
        statements.clear()
        owner = await provider.get_repository(Owner).get_one(first.id or 0, load=[Owner.wallets])
        assert len(statements) == 2, statements
        assert len(owner.wallets) == ROWS // 10


async def test_sync_list_with_load_of_1000_rows_runs_two_queries(
    settings: Settings, statements: list[str]
) -> None:
    first = await fill(settings)
    with get_sync_provider(settings=settings) as provider:
        wallets = provider.get_repository(Wallet)
        wallets.count()
        statements.clear()

        found = wallets.list(load=[Wallet.owner])

        assert len(selects(statements)) == len(statements) == 2, statements
        assert {wallet.owner.id for wallet in found if wallet.owner} == {
            first.id + i for i in range(10) if first.id is not None
        }
