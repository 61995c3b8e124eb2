"""The toolkit against the raw drivers and its peers, in one process: ``python -m
benchmarks.compare`` (``--quick``: tiny sizes, a smoke run under a minute).

Five workloads on all six combinations (PostgreSQL, SQLite, Redis x async, sync). Contenders:
the raw driver (the 1.00 reference: asyncpg, psycopg2, aiosqlite, sqlite3, redis.asyncio,
redis-py), the toolkit, the SQLModel session and advanced-alchemy's repository (SQL), redis-om
(Redis). Each round runs every workload on every contender, in an order that rotates from round
to round; a warm-up round is not recorded. Ratio = contender time / raw time of the same round,
the median over the rounds. Then a memory check: the peak of Python allocations (tracemalloc)
while listing N rows with the toolkit's ``list()``, its ``stream()``, and the SQLModel session.

Writes ``benchmarks/RESULTS.md`` (``--output``) and a chart, ``benchmarks/ratios.svg``
(``--chart``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import importlib.metadata
import platform
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import psycopg2
import redis
import redis.asyncio
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import Session, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from benchmarks import bench, chart, floors
from benchmarks import contenders as c
from models.heroes import Hero
from tests.redis_server import redis_stack_server
from toolkit import Settings, get_provider, get_sync_provider
from toolkit.storage_dependencies import dispose_engines
from toolkit.sync_storage_dependencies import dispose_engines as dispose_sync_engines

Timings = dict[str, dict[str, list[float]]]  # workload -> contender -> seconds, per round
HERE = Path(__file__).resolve().parent
WORKLOADS = {
    "insert": "insert one row, validated [rows/s]",
    "get": "get by primary key [ops/s]",
    "bulk": "bulk insert, one call, validated [rows/s]",
    "list": "list all rows, instances [rows/s]",
    "filter": "filter age 30-40, ordered, limit 100 [queries/s]",
}
TARGETS = {  # the issue's: (PostgreSQL and Redis, SQLite)
    "insert": (1.25, 1.75),
    "get": (1.25, 2.5),
    "bulk": (1.5, 1.5),
    "list": (3.0, 4.5),
    "filter": (3.0, 6.0),
}
PEERS = {"postgres": ("SQLModel Session", "advanced-alchemy"), "redis": ("redis-om",)}
PEERS["sqlite"] = PEERS["postgres"]
RAW = {
    "postgres": ("asyncpg", "psycopg2"),
    "sqlite": ("aiosqlite", "sqlite3"),
    "redis": ("redis.asyncio", "redis-py"),
}
SQL_RESET = {
    "postgres": ("TRUNCATE hero, raw_hero CASCADE",),
    "sqlite": ("DELETE FROM hero", "DELETE FROM raw_hero"),
}
COPY = f"INSERT INTO hero ({bench.COLUMNS}) SELECT {bench.COLUMNS} FROM raw_hero"
LOAD_CHUNK = 10_000


async def timed(call: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = await bench.done(call(*args))
    return time.perf_counter() - start, result


async def measure(
    writers: dict[str, Any],
    readers: dict[str, Any],
    reset: Callable[[], Awaitable[None]],
    load: Callable[[], Awaitable[None]],
    args: Any,
) -> Timings:
    """A warm-up round, then ``args.rounds`` rounds: the writes on ``writers`` (after
    ``reset``), then the reads on ``readers`` (after ``load``: ``args.rows`` rows each)."""
    timings: Timings = {w: {name: [] for name in writers} for w in WORKLOADS}
    names = list(writers)
    for round_ in range(-1, args.rounds):
        warm = round_ < 0
        ops, bulk = (5, 20) if warm else (args.ops, args.bulk)
        reps, freps = (1, 1) if warm else (args.reps, args.filter_reps)
        shift = round_ % len(names)
        order = names[shift:] + names[:shift]
        seconds: dict[str, dict[str, float]] = {w: {} for w in WORKLOADS}
        await reset()
        ids: dict[str, Any] = {}
        for name in order:
            seconds["insert"][name], ids[name] = await timed(
                writers[name].insert, bench.hero_dicts(ops, 0)
            )
        for name in order:
            seconds["get"][name] = (await timed(writers[name].get, ids[name]))[0]
        for name in order:
            seconds["bulk"][name] = (await timed(writers[name].bulk, bench.hero_dicts(bulk, ops)))[
                0
            ]
        await load()
        counts: dict[str, int] = {}
        for name in order:
            total = 0.0
            for _ in range(reps):
                elapsed, count = await timed(readers[name].list_all)
                assert count == args.rows, (name, count, args.rows)
                total += elapsed
            seconds["list"][name] = total
        for name in order:
            seconds["filter"][name], counts[name] = await timed(readers[name].filter, freps)
        assert len(set(counts.values())) == 1, counts
        assert counts[names[0]] > 0, counts
        if not warm:
            for workload, by_name in seconds.items():
                for name, value in by_name.items():
                    timings[workload][name].append(value)
        print(f"  round {round_ + 1 if not warm else 'warm-up'} done", flush=True)
    return timings


# --- SQL -----------------------------------------------------------------------------------------


def sync_url(url: str) -> str:
    parsed = make_url(url)
    driver = "postgresql+psycopg2" if parsed.drivername.startswith("postgresql") else "sqlite"
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def driver_kwargs(url: str) -> dict[str, Any]:
    parsed = make_url(url)
    return {
        "host": parsed.host,
        "port": parsed.port or 5432,
        "user": parsed.username,
        "password": parsed.password,
        "database": parsed.database,
    }


async def run_sql_async(backend: str, settings: Settings, url: str, args: Any) -> Timings:
    raw: c.AsyncpgRaw | c.AiosqliteRaw
    if backend == "postgres":
        raw = c.AsyncpgRaw(await asyncpg.connect(**driver_kwargs(url)))
    else:
        path = make_url(url).database or ""
        raw = c.AiosqliteRaw(await aiosqlite.connect(path, isolation_level=None))
    engine = create_async_engine(url)
    try:
        async with get_provider(backend, settings=settings) as provider:
            repo = provider.get_repository(Hero)
            await repo.list()  # makes the tables hero and team
            for statement in bench.SETUP[backend]:
                await raw.conn.execute(statement)
            sides: dict[str, Any] = {
                "raw": raw,
                "toolkit": c.ToolkitAsync(repo),
                "SQLModel Session": c.SessionAsync(engine),
                "advanced-alchemy": c.AAAsync(engine),
            }

            async def reset() -> None:
                for statement in SQL_RESET[backend]:
                    await raw.conn.execute(statement)

            async def load() -> None:
                await reset()
                for start in range(0, args.rows, LOAD_CHUNK):
                    await raw.bulk(bench.hero_dicts(min(LOAD_CHUNK, args.rows - start), start))
                await raw.conn.execute(COPY)

            return await measure(sides, sides, reset, load, args)
    finally:
        await raw.conn.close()
        await engine.dispose()
        await dispose_engines()


def dbapi_raw(backend: str, url: str) -> c.DbapiRaw:
    if backend == "postgres":
        kwargs = driver_kwargs(url)
        kwargs["dbname"] = kwargs.pop("database")
        conn: Any = psycopg2.connect(**kwargs)
        conn.autocommit = True
        return c.DbapiRaw(conn, "%s")
    return c.DbapiRaw(sqlite3.connect(make_url(url).database or "", isolation_level=None), "?")


def run_sql_sync(backend: str, settings: Settings, url: str, args: Any) -> Timings:
    raw = dbapi_raw(backend, url)
    engine = create_engine(sync_url(url))
    try:
        with get_sync_provider(backend, settings=settings) as provider:
            repo = provider.get_repository(Hero)
            repo.list()
            for statement in bench.SETUP[backend]:
                raw.cur.execute(statement)
            sides: dict[str, Any] = {
                "raw": raw,
                "toolkit": c.ToolkitSync(repo),
                "SQLModel Session": c.SessionSync(engine),
                "advanced-alchemy": c.AASync(engine),
            }

            async def reset() -> None:
                for statement in SQL_RESET[backend]:
                    raw.cur.execute(statement)

            async def load() -> None:
                await reset()
                for start in range(0, args.rows, LOAD_CHUNK):
                    raw.bulk(bench.hero_dicts(min(LOAD_CHUNK, args.rows - start), start))
                raw.cur.execute(COPY)

            return asyncio.run(measure(sides, sides, reset, load, args))
    finally:
        raw.cur.connection.close()
        engine.dispose()
        dispose_sync_engines()


# --- Redis ---------------------------------------------------------------------------------------


async def nothing() -> None:
    return None


async def run_redis_async(settings: Settings, url: str, prefix: str, args: Any) -> Timings:
    client: Any = redis.asyncio.Redis.from_url(url, decode_responses=True)
    aom = importlib.import_module("aredis_om")
    database = aom.get_redis_connection(url=url)
    om = {ns: c.om_model(aom, database, prefix, f"om{ns}") for ns in "wr"}
    await aom.Migrator(conn=database).run()
    raws = {ns: await c.RawRedisAsync(client, f"{prefix}:raw{ns}").start() for ns in "wr"}
    try:
        async with (
            get_provider("redis", settings=settings.replace(redis_key_prefix=f"{prefix}w")) as pw,
            get_provider("redis", settings=settings.replace(redis_key_prefix=f"{prefix}r")) as pr,
        ):
            writer, reader = pw.get_repository(Hero), pr.get_repository(Hero)
            for start in range(0, args.rows, LOAD_CHUNK):
                rows = bench.hero_dicts(min(LOAD_CHUNK, args.rows - start), start)
                await raws["r"].bulk(rows)
                await reader.create_many([Hero(**row) for row in rows])
                await om["r"].add([om["r"](**row) for row in rows])
            writers = {
                "raw": raws["w"],
                "toolkit": c.ToolkitAsync(writer),
                "redis-om": c.OmAsync(om["w"]),
            }
            readers = {
                "raw": raws["r"],
                "toolkit": c.ToolkitAsync(reader),
                "redis-om": c.OmAsync(om["r"]),
            }
            return await measure(writers, readers, nothing, nothing, args)
    finally:
        await client.aclose()
        await database.aclose()
        await dispose_engines()


def run_redis_sync(settings: Settings, url: str, prefix: str, args: Any) -> Timings:
    client = redis.Redis.from_url(url, decode_responses=True)
    rom = importlib.import_module("redis_om")
    database = rom.get_redis_connection(url=url)
    om = {ns: c.om_model(rom, database, prefix, f"om{ns}") for ns in "wr"}
    rom.Migrator(conn=database).run()
    raws = {ns: c.RawRedisSync(client, f"{prefix}:raw{ns}") for ns in "wr"}
    try:
        with (
            get_sync_provider(
                "redis", settings=settings.replace(redis_key_prefix=f"{prefix}w")
            ) as pw,
            get_sync_provider(
                "redis", settings=settings.replace(redis_key_prefix=f"{prefix}r")
            ) as pr,
        ):
            writer, reader = pw.get_repository(Hero), pr.get_repository(Hero)
            for start in range(0, args.rows, LOAD_CHUNK):
                rows = bench.hero_dicts(min(LOAD_CHUNK, args.rows - start), start)
                raws["r"].bulk(rows)
                reader.create_many([Hero(**row) for row in rows])
                om["r"].add([om["r"](**row) for row in rows])
            writers = {
                "raw": raws["w"],
                "toolkit": c.ToolkitSync(writer),
                "redis-om": c.OmSync(om["w"]),
            }
            readers = {
                "raw": raws["r"],
                "toolkit": c.ToolkitSync(reader),
                "redis-om": c.OmSync(om["r"]),
            }
            return asyncio.run(measure(writers, readers, nothing, nothing, args))
    finally:
        client.close()
        database.close()
        dispose_sync_engines()


def redis_cleanup(url: str, prefix: str) -> None:
    """Drop this run's indexes and keys (all named from ``prefix``)."""
    client = redis.Redis.from_url(url, decode_responses=True)
    for index in client.execute_command("FT._LIST"):
        if str(index).startswith(prefix):
            client.execute_command("FT.DROPINDEX", index)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    client.close()


# --- memory --------------------------------------------------------------------------------------


def peak_of(call: Callable[[], int]) -> tuple[int, float]:
    gc.collect()
    tracemalloc.start()
    rows = call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return rows, peak / 1e6


async def apeak_of(call: Callable[[], Awaitable[int]]) -> tuple[int, float]:
    gc.collect()
    tracemalloc.start()
    rows = await call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return rows, peak / 1e6


def memory_check(backend: str, settings: Settings, url: str, args: Any) -> dict[str, float]:
    """Peak MB of listing ``args.memory_rows`` rows, per path and call."""
    raw = dbapi_raw(backend, url)
    for statement in SQL_RESET[backend]:
        raw.cur.execute(statement)
    for start in range(0, args.memory_rows, LOAD_CHUNK):
        raw.bulk(bench.hero_dicts(min(LOAD_CHUNK, args.memory_rows - start), start))
    raw.cur.execute(COPY)
    raw.cur.execute("DELETE FROM raw_hero")
    peaks: dict[str, float] = {}
    engine = create_engine(sync_url(url))
    try:
        with get_sync_provider(backend, settings=settings) as provider:
            repo = provider.get_repository(Hero)

            def session_all() -> int:
                with Session(engine) as session:
                    return len(session.exec(select(Hero).order_by(col(Hero.id))).all())

            for name, call in (
                ("toolkit list()", lambda: len(repo.list())),
                ("toolkit stream()", lambda: sum(1 for _ in repo.stream())),
                ("SQLModel Session select all", session_all),
            ):
                rows, peaks[f"sync | {name}"] = peak_of(call)
                assert rows == args.memory_rows, (name, rows)
        peaks.update(asyncio.run(memory_check_async(backend, settings, url, args)))
    finally:
        engine.dispose()
        dispose_sync_engines()
        for statement in SQL_RESET[backend]:
            raw.cur.execute(statement)
        raw.cur.connection.close()
    return peaks


async def memory_check_async(
    backend: str, settings: Settings, url: str, args: Any
) -> dict[str, float]:
    peaks: dict[str, float] = {}
    engine = create_async_engine(url)
    try:
        async with get_provider(backend, settings=settings) as provider:
            repo = provider.get_repository(Hero)

            async def list_() -> int:
                return len(await repo.list())

            async def stream() -> int:
                return sum([1 async for _ in repo.stream()])

            async def session_all() -> int:
                async with AsyncSession(engine) as session:
                    return len((await session.exec(select(Hero).order_by(col(Hero.id)))).all())

            for name, call in (
                ("toolkit list()", list_),
                ("toolkit stream()", stream),
                ("SQLModel Session select all", session_all),
            ):
                rows, peaks[f"async | {name}"] = await apeak_of(call)
                assert rows == args.memory_rows, (name, rows)
    finally:
        await engine.dispose()
        await dispose_engines()
    return peaks


# --- the report ----------------------------------------------------------------------------------


def ratio(timings: Timings, workload: str, name: str, over: str = "raw") -> float:
    runs = timings[workload]
    return statistics.median(a / b for a, b in zip(runs[name], runs[over], strict=True))


def counts(args: Any) -> dict[str, int]:
    return {
        "insert": args.ops,
        "get": args.ops,
        "bulk": args.bulk,
        "list": args.rows * args.reps,
        "filter": args.filter_reps,
    }


def target(backend: str, workload: str) -> float:
    return TARGETS[workload][backend == "sqlite"]


def report(
    results: dict[tuple[str, str], Timings],
    peaks: tuple[str, dict[str, float]] | None,
    parts: dict[str, float],
    args: Any,
    command: str,
    seconds: float,
) -> str:
    versions = ", ".join(
        f"{p} {importlib.metadata.version(p)}"
        for p in (
            "sqlalchemy",
            "sqlmodel",
            "pydantic",
            "asyncpg",
            "psycopg2-binary",
            "aiosqlite",
            "redis",
            "advanced-alchemy",
            "redis-om",
        )
    )
    lines = [
        "# The toolkit against the raw drivers and its peers",
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; took {seconds / 60:.1f} min.  ",
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"{len(__import__('os').sched_getaffinity(0))} CPUs (shared; read the ratios, not the "
        "absolute figures).  ",
        f"Versions: {versions}.",
        "",
        f"Sizes: {args.rounds} rounds (medians) after a warm-up round; {args.ops:,} single "
        f"inserts and gets, bulk inserts of {args.bulk:,} rows, tables of {args.rows:,} rows "
        f"listed {args.reps} time(s) a round, {args.filter_reps} filter queries a round.",
        "",
        "Ratio = contender time / raw driver time of the same round, median over the rounds "
        "(1.00 = raw; 4.00 = four times slower). Speed-up = peer time / toolkit time, median "
        "over the rounds (above 1: the toolkit is faster).",
        "",
        "How each contender runs: raw = the driver alone, autocommit, `INSERT ... RETURNING` per "
        "row, bulk as one transaction (executemany / execute_values / one MULTI pipeline), "
        "rows returned as driver rows or dicts, no validation. Toolkit = `create`, `get`, "
        "`create_many`, `list()`, `list(col(Hero.age) >= 30, col(Hero.age) <= 40, "
        "order_by=Hero.age, limit=100)`. SQLModel Session = a session per call, "
        "`expire_on_commit=False`, "
        "`Hero.model_validate` before `add`. advanced-alchemy = `SQLAlchemy{Async,Sync}Repository` "
        "with `auto_commit=True`, a session per call, `add`, `get`, `add_many`, `list` with "
        "`OrderBy` and `LimitOffset` filters. redis-om = a `JsonModel` of the same fields (its own "
        "ULID keys, `age` indexed and sortable): `save`, `get`, `add`, `find().all()`, "
        "`find(...).sort_by('age').page(0, 100)`. Raw Redis = JSON documents with keys from "
        "INCR, JSON.GET, one pipeline of JSON.SET, JSON.MGET in chunks of 1,000, FT.SEARCH on an "
        f"index of its own. SQLite: a file in journal mode {args.sqlite_journal.upper()} (WAL "
        "unless --sqlite-url names a file, whose mode is left as it is) with "
        "`synchronous=NORMAL` on every connection. All SQL contenders use the table the toolkit "
        "made; the raw drivers a twin table `raw_hero`.",
        "",
        "## Headline: the toolkit's ratio against the issue's target",
        "",
        "Each cell: the toolkit's ratio / the target, met or not; in brackets the best peer's "
        "ratio, and whether the toolkit is ahead of every peer (the issue's other target). The "
        "filter has no index to use on SQL (`hero.age` has none, nor has its raw twin): every "
        "contender scans; on Redis each side queries an index over `age`.",
        "",
        "| workload | " + " | ".join(f"{b} {m}" for b, m in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    for workload in WORKLOADS:
        cells = []
        for (backend, _mode), timings in results.items():
            mine, goal = ratio(timings, workload, "toolkit"), target(backend, workload)
            best = min(ratio(timings, workload, peer) for peer in PEERS[backend])
            mark = "met" if mine <= goal else "NOT met"
            ahead = "ahead" if mine < best else "BEHIND"
            cells.append(f"{mine:.2f} / {goal:g} {mark} ({best:.2f}, {ahead})")
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    lines += ["", f"![time ratios to the raw driver]({args.chart.name})", ""]
    lines += [
        "## The cells that miss their target: profile and reason",
        "",
        floors.__doc__.strip().split("\n\n", 1)[1] if floors.__doc__ else "",
        "",
        *floors.floor_rows(missed(results, args), parts),
    ]
    for (backend, mode), timings in results.items():
        peers = PEERS[backend]
        raw_name = RAW[backend][mode == "sync"]
        lines += [
            f"## {backend} / {mode} (raw = {raw_name})",
            "",
            "| workload | raw | toolkit | target | " + " | ".join(peers) + " |",
            "|---|---|---|---|" + "---|" * len(peers),
        ]
        for workload, title in WORKLOADS.items():
            per_second = counts(args)[workload] / statistics.median(timings[workload]["raw"])
            mine, goal = ratio(timings, workload, "toolkit"), target(backend, workload)
            cells = [
                f"1.00 ({per_second:,.0f}/s)",
                f"{mine:.2f}",
                f"<= {goal:g} {'met' if mine <= goal else 'NOT met'}",
                *(f"{ratio(timings, workload, peer):.2f}" for peer in peers),
            ]
            lines.append(f"| {title} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "Toolkit speed-up over each peer:",
            "",
            "| workload | " + " | ".join(f"over {peer}" for peer in peers) + " |",
            "|---|" + "---|" * len(peers),
        ]
        for workload, title in WORKLOADS.items():
            ups = [f"{ratio(timings, workload, peer, over='toolkit'):.2f}x" for peer in peers]
            lines.append(f"| {title} | " + " | ".join(ups) + " |")
        lines.append("")
    if peaks is not None:
        backend, by_call = peaks
        lines += [
            f"## Memory: peak Python allocations listing {args.memory_rows:,} rows ({backend})",
            "",
            "tracemalloc's peak during the call (the rows are counted, not kept, for stream()).",
            "",
            "| path | call | peak MB |",
            "|---|---|---|",
        ]
        for key, peak in by_call.items():
            path, call = key.split(" | ")
            lines.append(f"| {path} | {call} | {peak:,.1f} |")
        lines.append("")
    return "\n".join(lines)


def missed(
    results: dict[tuple[str, str], Timings], args: Any
) -> list[tuple[str, str, str, float, float, float]]:
    """The cells whose ratio is above the target, with the raw and toolkit time per operation."""
    cells = []
    for (backend, mode), timings in results.items():
        for workload, title in WORKLOADS.items():
            goal = target(backend, workload)
            if ratio(timings, workload, "toolkit") <= goal:
                continue
            ops = counts(args)[workload]
            raw, mine = (statistics.median(timings[workload][n]) / ops for n in ("raw", "toolkit"))
            cells.append((f"{backend} / {mode}", workload, title, raw, mine, goal))
    return cells


def chart_of(results: dict[tuple[str, str], Timings]) -> str:
    panels = []
    for (backend, mode), timings in results.items():
        sides = {
            name: [ratio(timings, w, name) for w in WORKLOADS]
            for name in ("toolkit", *PEERS[backend])
        }
        targets = [target(backend, w) for w in WORKLOADS]
        panels.append(
            (f"{backend} / {mode} (raw = {RAW[backend][mode == 'sync']})", sides, targets)
        )
    return chart.svg(panels)


# --- main ----------------------------------------------------------------------------------------


@contextmanager
def services(args: Any, stack: ExitStack) -> Iterator[tuple[str, str, str]]:
    """The async PostgreSQL and SQLite URLs and the Redis URL: given, or made for the run."""
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    postgres = args.postgres_url
    if postgres is None and "postgres" in args.backends:
        postgres = (
            f"postgresql+asyncpg://{bench.PG}/{stack.enter_context(bench.postgres_database())}"
        )
    sqlite = args.sqlite_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    redis_url = args.redis_url
    if redis_url is None and "redis" in args.backends:
        redis_url = stack.enter_context(redis_stack_server(tmp))
    yield postgres or "", sqlite, redis_url or ""


def parse(argv: list[str] | None) -> Any:
    parser = argparse.ArgumentParser(description="The toolkit against raw drivers and peers.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ops", type=int, default=500, help="single inserts and gets a round")
    parser.add_argument("--bulk", type=int, default=5000, help="rows in the bulk insert")
    parser.add_argument("--rows", type=int, default=10_000, help="rows in the listed table")
    parser.add_argument("--reps", type=int, default=3, help="list calls a round")
    parser.add_argument("--filter-reps", type=int, default=50, help="filter calls a round")
    parser.add_argument("--memory-rows", type=int, default=200_000, help="0: no memory check")
    parser.add_argument("--backends", default="postgres,sqlite,redis")
    parser.add_argument("--modes", default="async,sync")
    parser.add_argument("--postgres-url", help="async URL of an existing database")
    parser.add_argument("--sqlite-url", help="sqlite+aiosqlite URL (default: a temporary file)")
    parser.add_argument("--redis-url", help="a Redis with JSON and Search (default: start one)")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--chart", type=Path, help="the SVG (default: ratios.svg by --output)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.ops, args.bulk, args.rows = 1, 10, 50, 300
        args.reps, args.filter_reps, args.memory_rows = 1, 2, 2000
    args.backends = args.backends.split(",")
    args.modes = args.modes.split(",")
    args.chart = args.chart or args.output.parent / "ratios.svg"
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    command = " ".join(["python -m benchmarks.compare", *(sys.argv[1:] if argv is None else argv)])
    started = time.perf_counter()
    prefix = f"cmp{secrets.token_hex(4)}"
    results: dict[tuple[str, str], Timings] = {}
    peaks: tuple[str, dict[str, float]] | None = None
    with ExitStack() as stack:
        postgres, sqlite, redis_url = stack.enter_context(services(args, stack))
        given: dict[str, Any] = {"postgres_url": postgres, "redis_url": redis_url}
        settings = Settings(sqlite_url=sqlite, **{k: v for k, v in given.items() if v})
        database = make_url(sqlite).database or ""
        conn = sqlite3.connect(database)
        if args.sqlite_url is None:  # a file of the run's own: WAL, kept by the file
            conn.execute("PRAGMA journal_mode=WAL")
        args.sqlite_journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
        conn.close()
        event.listen(Engine, "connect", bench.sqlite_pragmas)
        try:
            for backend in args.backends:
                url = postgres if backend == "postgres" else sqlite
                for mode in args.modes:
                    print(f"{backend} / {mode}", flush=True)
                    chosen = settings.replace(backend=backend)
                    if backend == "redis":
                        mode_prefix = f"{prefix}{mode[0]}"
                        stack.callback(redis_cleanup, redis_url, mode_prefix)
                        if mode == "async":
                            timings = asyncio.run(
                                run_redis_async(chosen, redis_url, mode_prefix, args)
                            )
                        else:
                            timings = run_redis_sync(chosen, redis_url, mode_prefix, args)
                    elif mode == "async":
                        timings = asyncio.run(run_sql_async(backend, chosen, url, args))
                    else:
                        timings = run_sql_sync(backend, chosen, url, args)
                    results[(backend, mode)] = timings
            sql = [b for b in args.backends if b != "redis"]
            if args.memory_rows and sql:
                print(f"memory: {sql[0]}, {args.memory_rows:,} rows", flush=True)
                url = postgres if sql[0] == "postgres" else sqlite
                chosen = settings.replace(backend=sql[0])
                peaks = (sql[0], memory_check(sql[0], chosen, url, args))
        finally:
            event.remove(Engine, "connect", bench.sqlite_pragmas)
            for backend in [b for b in args.backends if b != "redis"]:
                drop_raw_table(backend, postgres if backend == "postgres" else sqlite)
    parts = floors.measure_parts(rows=200 if args.quick else 5_000)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    elapsed = time.perf_counter() - started
    args.output.write_text(report(results, peaks, parts, args, command, elapsed))
    args.chart.write_text(chart_of(results))
    print(f"wrote {args.output} and {args.chart}")


def drop_raw_table(backend: str, url: str) -> None:
    raw = dbapi_raw(backend, url)
    raw.cur.execute("DROP TABLE IF EXISTS raw_hero")
    raw.cur.connection.close()


if __name__ == "__main__":
    main()
