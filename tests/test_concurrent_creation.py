"""Several processes' worth of engines using a fresh database at once all get their tables."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from models import ActionExecution, Hero, Team
from tests.services import drop_table
from toolkit.config import Settings
from toolkit.storage_dependencies import get_provider
from toolkit.sync_storage_dependencies import get_sync_provider

WORKERS = 6


def test_concurrent_first_uses_create_each_table_once(settings: Settings, backend: str) -> None:
    for model in (Team, ActionExecution):
        drop_table(settings, backend, model)
    start = threading.Barrier(WORKERS)

    async def use_async(own: Settings) -> int:
        async with get_provider(settings=own) as provider:
            start.wait()
            hero = await provider.get_repository(Hero).create(Hero(name="h", secret_name="s"))
            await provider.get_repository(ActionExecution).list()
            return hero.id or 0

    def use_sync(own: Settings) -> int:
        with get_sync_provider(settings=own) as provider:
            start.wait()
            hero = provider.get_repository(Hero).create(Hero(name="h", secret_name="s"))
            provider.get_repository(ActionExecution).list()
            return hero.id or 0

    def worker(index: int) -> int:
        # A setting of its own gives each worker its own engine, as separate processes have.
        own = settings.replace(pool_recycle=1000 + index)
        return asyncio.run(use_async(own)) if index % 2 else use_sync(own)

    with ThreadPoolExecutor(WORKERS) as pool:
        ids = list(pool.map(worker, range(WORKERS)))

    assert len(set(ids)) == WORKERS
