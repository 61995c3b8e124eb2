"""How long a big Redis batch makes every other client wait: ``python -m benchmarks.redis_stall``
(``--rows 20000`` for a quicker run).

While one client runs a `create_many`, `update_many` and `delete_many` of ``--rows`` rows (async
path, then sync path), another thread sends PING in a loop on its own connection and records how
long each took: the longest of those is the longest stall of the server. Each batch runs twice:
staged (the toolkit's way: runs of `CHUNK` rows, then a commit) and, for contrast, as one script
run (`CHUNK` raised above the batch size). The prober is another process, so that this one's
Python work does not delay it. Writes ``benchmarks/REDIS_STALL.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import redis
from sqlmodel import Field, SQLModel

from tests.redis_server import redis_stack_server
from toolkit import Settings, get_provider, get_sync_provider
from toolkit.repositories.redis import _repository, _sync_repository

RESULTS = Path(__file__).with_name("REDIS_STALL.md")


class StallRow(SQLModel, table=True):
    __tablename__ = "stall_row"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    score: int = Field(default=0, index=True)


def ping_loop(url: str, stop: Any, out: Any) -> None:
    """PING ``url`` every millisecond until ``stop`` is set; send the waits through ``out``."""
    client: redis.Redis[Any] = redis.Redis.from_url(url)
    waits: list[float] = []
    while not stop.is_set():
        start = time.perf_counter()
        client.ping()
        waits.append(time.perf_counter() - start)
        time.sleep(0.001)
    out.send(waits)
    client.close()


@contextmanager
def probe(url: str) -> Iterator[list[float]]:
    """PING the server in a loop from another process (so that this one's work does not delay
    it); the seconds each PING took, once the block ends."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=ping_loop, args=(url, stop, sender), daemon=True)
    process.start()
    time.sleep(0.5)  # the prober connected and pinging
    waits: list[float] = []
    try:
        yield waits
    finally:
        stop.set()
        waits.extend(receiver.recv())
        process.join()


def chunked(chunk: int) -> None:
    """Stage batches in runs of ``chunk`` rows (above the batch size: one run)."""
    _repository.CHUNK = chunk
    _sync_repository.CHUNK = chunk


def describe(waits: list[float], took: float) -> str:
    ordered = sorted(waits)
    p99 = ordered[int(len(ordered) * 0.99)] if ordered else 0.0
    longest = max(waits, default=0.0)
    return f"{took:.2f} s | {len(waits):,} | {p99 * 1000:.1f} ms | {longest * 1000:.1f} ms"


def run(url: str, rows: int) -> list[str]:
    lines: list[str] = []
    staged_chunk = _repository.CHUNK
    for path in ("async", "sync"):
        for mode, chunk in (("staged", staged_chunk), ("one run", rows + 1)):
            chunked(chunk)
            settings = Settings(
                backend="redis", redis_url=url, redis_key_prefix=f"s{uuid.uuid4().hex[:8]}"
            )
            timed = (
                sync_batches(settings, rows)
                if path == "sync"
                else asyncio.run(async_batches(settings, rows, url))
            )
            for operation, (took, waits) in timed.items():
                lines.append(f"| {path} | {operation} | {mode} | {describe(waits, took)} |")
                print(lines[-1], flush=True)
    chunked(staged_chunk)
    return lines


def measure(url: str, call: Callable[[], Any]) -> tuple[float, list[float]]:
    with probe(url) as waits:
        start = time.perf_counter()
        call()
        took = time.perf_counter() - start
    return took, waits


async def ameasure(url: str, call: Callable[[], Awaitable[Any]]) -> tuple[float, list[float]]:
    with probe(url) as waits:
        start = time.perf_counter()
        await call()
        took = time.perf_counter() - start
    return took, waits


def sync_batches(settings: Settings, rows: int) -> dict[str, tuple[float, list[float]]]:
    url = settings.redis_url.get_secret_value()
    with get_sync_provider("redis", settings=settings) as provider:
        repository = provider.get_repository(StallRow)
        repository.count()
        made = [StallRow(name=f"row {n}", score=n) for n in range(rows)]
        timed: dict[str, tuple[float, list[float]]] = {}
        created: list[StallRow] = []
        timed["create_many"] = measure(url, lambda: created.extend(repository.create_many(made)))
        for row in created:
            row.score += 1
        timed["update_many"] = measure(url, lambda: repository.update_many(created))
        ids = [row.id for row in created if row.id is not None]
        timed["delete_many"] = measure(url, lambda: repository.delete_many(ids))
        assert repository.count() == 0
    return timed


async def async_batches(
    settings: Settings, rows: int, url: str
) -> dict[str, tuple[float, list[float]]]:
    async with get_provider("redis", settings=settings) as provider:
        repository = provider.get_repository(StallRow)
        await repository.count()
        made = [StallRow(name=f"row {n}", score=n) for n in range(rows)]
        timed: dict[str, tuple[float, list[float]]] = {}
        created: list[StallRow] = []

        async def create() -> None:
            created.extend(await repository.create_many(made))

        timed["create_many"] = await ameasure(url, create)
        for row in created:
            row.score += 1
        timed["update_many"] = await ameasure(url, lambda: repository.update_many(created))
        ids = [row.id for row in created if row.id is not None]
        timed["delete_many"] = await ameasure(url, lambda: repository.delete_many(ids))
        assert await repository.count() == 0
    return timed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="How long a big Redis batch stalls the server.")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--output", type=Path, default=RESULTS, help="the Markdown report")
    parser.add_argument(
        "--redis-url", help="a running Redis with JSON and Search (else one is started)"
    )
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        url = args.redis_url or stack.enter_context(redis_stack_server(Path(tempfile.mkdtemp())))
        header = [
            "# Redis: how long a big batch makes other clients wait",
            "",
            f"Command: `python -m benchmarks.redis_stall --rows {args.rows}`. Python "
            f"{sys.version.split()[0]}; {args.rows:,} rows of `StallRow` (a unique name, an "
            f"indexed score); staged runs of {_repository.CHUNK:,} rows.",
            "",
            "Another client PINGs the server every millisecond during each call: 'longest' is the "
            "longest any PING waited (the longest stall), 'p99' the 99th percentile.",
            "",
            "| path | call | how | took | PINGs | p99 | longest |",
            "|---|---|---|---:|---:|---:|---:|",
        ]
        lines = run(url, args.rows)
    args.output.write_text("\n".join([*header, *lines, ""]))
    print(f"written: {args.output}")


if __name__ == "__main__":
    main()
