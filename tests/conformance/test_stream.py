"""``stream()``: every row, in the order and with the filters of ``list()``, a batch at a time,
on every backend. ``test_stream.py`` is the async source of ``test_sync_stream.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlmodel import col

from models import Hero
from toolkit import OrderItem
from toolkit.config import Settings
from toolkit.errors import ValidationError
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.providers import RepositoryProvider
from toolkit.storage_dependencies import get_provider


@pytest.fixture
async def provider(settings: Settings) -> AsyncIterator[RepositoryProvider]:
    async with get_provider(settings=settings) as opened:
        yield opened


@pytest.fixture
async def heroes(provider: RepositoryProvider) -> BaseRepository[Hero]:
    repository = provider.get_repository(Hero)
    await repository.create_many(
        Hero(name=f"hero {i % 7}", secret_name=f"s{i}", age=None if i % 5 == 0 else i % 40)
        for i in range(120)
    )
    return repository


async def collect(stream: AsyncIterator[Hero]) -> list[Hero]:
    return [hero async for hero in stream]


@pytest.mark.parametrize("batch_size", [1, 7, 1_000])
async def test_stream_gives_what_list_gives_in_the_same_order(
    heroes: BaseRepository[Hero], batch_size: int
) -> None:
    assert await collect(heroes.stream(batch_size=batch_size)) == await heroes.list()
    where = col(Hero.age) >= 10
    order: list[OrderItem] = [col(Hero.age).desc(), Hero.name]
    streamed = await collect(heroes.stream(where, order_by=order, batch_size=batch_size))
    assert streamed == await heroes.list(where, order_by=order)
    assert len(streamed) > batch_size or batch_size == 1_000


async def test_stream_of_no_rows_is_empty(heroes: BaseRepository[Hero]) -> None:
    assert await collect(heroes.stream(Hero.name == "nobody")) == []


async def test_stream_refuses_a_batch_size_below_one(heroes: BaseRepository[Hero]) -> None:
    with pytest.raises(ValidationError):
        await collect(heroes.stream(batch_size=0))


async def test_the_provider_can_write_while_a_stream_is_read(
    heroes: BaseRepository[Hero],
) -> None:
    seen: list[int] = []
    async for hero in heroes.stream(order_by=Hero.secret_name, batch_size=10):
        seen.append(hero.id or 0)
        await heroes.update(hero.model_copy(update={"age": 99}))  # not a column of the order

    assert sorted(seen) == sorted(hero.id or 0 for hero in await heroes.list())
    assert len(set(seen)) == len(seen) == 120
    assert await heroes.count(Hero.age == 99) == 120
