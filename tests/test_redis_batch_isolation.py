"""Readers never see a staged Redis batch in part, on the async and the sync path; a batch
whose task is cancelled part-way is rolled back.

While a `create_many`, `update_many` and `delete_many` of many chunks run, another reader of
the same table counts, lists, filters and gets, as fast as it can; every answer it gets shows
the batch either not at all or whole. (How batches are staged: `tests/test_redis_batches.py`.)
"""

from __future__ import annotations

import asyncio
import sys
import threading
import uuid
from typing import Any

import pytest
import redis
from sqlmodel import col

from models import Team
from toolkit.config import Settings
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.redis._repository import RedisRepository
from toolkit.repositories.redis._sync_repository import SyncRedisRepository
from toolkit.repositories.redis._writer import RedisWriter
from toolkit.repositories.sync_base import BaseSyncRepository
from toolkit.storage_dependencies import get_provider
from toolkit.sync_storage_dependencies import get_sync_provider

ROWS = 3_000
CHUNK = 100  # thirty chunks a batch


@pytest.fixture
def redis_settings(base_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for repository in (RedisRepository, SyncRedisRepository):
        monkeypatch.setattr(sys.modules[repository.__module__], "CHUNK", CHUNK)
    return base_settings.replace(backend="redis", redis_key_prefix=f"t{uuid.uuid4().hex[:10]}")


def seen(counts: list[int], headquarters: list[set[Any]]) -> None:
    """What the reader saw: each answer shows the batch whole or not at all."""
    assert set(counts) <= {0, ROWS}, sorted(set(counts))
    assert all(len(values) <= 1 for values in headquarters), headquarters


async def read_async(
    teams: BaseRepository[Team], done: asyncio.Event
) -> tuple[list[int], list[set[Any]]]:
    counts: list[int] = []
    headquarters: list[set[Any]] = []
    while not done.is_set():
        counts.append(await teams.count())
        counts.append(len(await teams.list(col(Team.name) >= "team", limit=ROWS + 1)))
        rows = await teams.list(order_by=col(Team.name), limit=ROWS)
        counts.append(len(rows))
        headquarters.append({row.headquarters for row in rows})
        found = await teams.first(col(Team.name) == "team 2999")
        counts.append(ROWS if found else 0)
        await asyncio.sleep(0)
    return counts, headquarters


async def test_async_readers_see_a_batch_whole_or_not_at_all(redis_settings: Settings) -> None:
    async with (
        get_provider("redis", settings=redis_settings) as writer_side,
        get_provider("redis", settings=redis_settings) as reader_side,
    ):
        writer = writer_side.get_repository(Team)
        reader = reader_side.get_repository(Team)
        await reader.count()  # the index made before the race

        async def race(write: Any) -> None:
            done = asyncio.Event()
            reading = asyncio.create_task(read_async(reader, done))
            try:
                await write
            finally:
                done.set()
            counts, headquarters = await reading
            assert len(counts) >= 4  # one round of reads at least, while the batch ran
            seen(counts, headquarters)

        created: list[Team] = []

        async def create() -> None:
            created.extend(await writer.create_many(Team(name=f"team {n}") for n in range(ROWS)))

        await race(create())
        for team in created:
            team.headquarters = "moved"
        await race(writer.update_many(created))
        await race(writer.delete_many(team.id for team in created if team.id is not None))
        assert await reader.count() == 0


def read_sync(teams: BaseSyncRepository[Team], done: threading.Event, out: list[Any]) -> None:
    counts: list[int] = []
    headquarters: list[set[Any]] = []
    while not done.is_set():
        counts.append(teams.count())
        counts.append(len(teams.list(col(Team.name) >= "team", limit=ROWS + 1)))
        rows = teams.list(order_by=col(Team.name), limit=ROWS)
        counts.append(len(rows))
        headquarters.append({row.headquarters for row in rows})
        counts.append(ROWS if teams.first(col(Team.name) == "team 2999") else 0)
    out.append((counts, headquarters))


def test_sync_readers_see_a_batch_whole_or_not_at_all(redis_settings: Settings) -> None:
    with (
        get_sync_provider("redis", settings=redis_settings) as writer_side,
        get_sync_provider("redis", settings=redis_settings) as reader_side,
    ):
        writer = writer_side.get_repository(Team)
        reader = reader_side.get_repository(Team)
        reader.count()

        def race(write: Any) -> Any:
            done, out = threading.Event(), list[Any]()
            reading = threading.Thread(target=read_sync, args=(reader, done, out))
            reading.start()
            try:
                return write()
            finally:
                done.set()
                reading.join()
                counts, headquarters = out[0]
                assert len(counts) >= 4
                seen(counts, headquarters)

        created = race(lambda: writer.create_many(Team(name=f"team {n}") for n in range(ROWS)))
        for team in created:
            team.headquarters = "moved"
        race(lambda: writer.update_many(created))
        race(lambda: writer.delete_many(team.id for team in created if team.id is not None))
        assert reader.count() == 0


async def test_a_batch_cancelled_part_way_is_rolled_back(redis_settings: Settings) -> None:
    server: Any = redis.Redis.from_url(
        redis_settings.redis_url.get_secret_value(), decode_responses=True
    )
    gate = f"{redis_settings.redis_key_prefix}:__meta__:team:gate"
    try:
        async with get_provider("redis", settings=redis_settings) as provider:
            teams = provider.get_repository(Team)
            await teams.count()
            # Twenty chunks: staging lasts long enough to be seen under any load.
            writing = asyncio.create_task(
                teams.create_many(Team(name=f"team {n}") for n in range(20_000))
            )
            for _ in range(10_000):  # until staging has begun
                if server.exists(gate):
                    break
                await asyncio.sleep(0.001)
            assert not writing.done(), "the batch ended before the test saw it staged"
            writing.cancel()
            with pytest.raises(asyncio.CancelledError):
                await writing
            assert not server.exists(gate)
            assert await teams.count() == 0
            assert server.keys(f"{redis_settings.redis_key_prefix}:team:*") == []  # no document
    finally:
        server.close()


async def test_a_batch_cancelled_as_its_begin_reply_comes_is_rolled_back(
    redis_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = RedisWriter.run

    async def cancelled_once_begun(
        self: Any, operation: str, *arguments: Any, **options: Any
    ) -> Any:
        reply = await run(self, operation, *arguments, **options)
        if operation == "begin":  # the server has begun the batch; its caller is cancelled
            raise asyncio.CancelledError
        return reply

    monkeypatch.setattr(RedisWriter, "run", cancelled_once_begun)
    server: Any = redis.Redis.from_url(
        redis_settings.redis_url.get_secret_value(), decode_responses=True
    )
    gate = f"{redis_settings.redis_key_prefix}:__meta__:team:gate"
    try:
        async with get_provider("redis", settings=redis_settings) as provider:
            teams = provider.get_repository(Team)
            with pytest.raises(asyncio.CancelledError):
                await teams.create_many(Team(name=f"team {n}") for n in range(CHUNK + 1))
            assert not server.exists(gate)
            assert await teams.count() == 0
    finally:
        server.close()
