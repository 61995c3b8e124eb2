"""A stream of 200,000 rows stays in bounded memory, where a ``list()`` of the same rows does
not: measured with ``tracemalloc`` (the Python allocations of the calls), on SQLite, sync (the
rows are written with sqlite3 directly, to keep the test short; reading is what is measured)."""

from __future__ import annotations

import sqlite3
import tracemalloc
from pathlib import Path

from models import Hero
from toolkit.config import Settings
from toolkit.sync_storage_dependencies import get_sync_provider

ROWS = 200_000
BOUND = 16 * 2**20  # bytes: a few batches of rows; a list of them all takes far more


def test_a_stream_of_200000_rows_stays_under_a_bound_that_list_exceeds(tmp_path: Path) -> None:
    path = tmp_path / "stream.db"
    settings = Settings(sqlite_url=f"sqlite+aiosqlite:///{path}", backend="sqlite")
    with get_sync_provider(settings=settings) as provider:
        provider.get_repository(Hero).count()  # the table, made as the toolkit makes it
    with sqlite3.connect(path) as raw:
        raw.executemany(
            "INSERT INTO hero (name, secret_name, age) VALUES (?, ?, ?)",
            ((f"hero {i}", f"secret {i}", i % 90) for i in range(ROWS)),
        )

    with get_sync_provider(settings=settings) as provider:
        heroes = provider.get_repository(Hero)
        tracemalloc.start()
        try:
            streamed = sum(1 for _ in heroes.stream(batch_size=1_000))
            _, stream_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            listed = len(heroes.list())
            _, list_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert streamed == listed == ROWS
    assert stream_peak < BOUND < list_peak, (stream_peak, list_peak)
