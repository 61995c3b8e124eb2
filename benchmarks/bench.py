"""The toolkit against the raw driver, interleaved in one process: ``python -m benchmarks.bench``.

Each round runs every workload on the raw driver and on the toolkit (which goes first alternates);
both get plain dicts and convert them inside the timed region. The raw side has its own table
``raw_hero`` with the columns, index and foreign key of ``hero``.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import aiosqlite
import asyncpg
import psycopg2
import psycopg2.extras
from sqlalchemy import Engine, event
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection

from models.heroes import Hero
from toolkit import BaseRepository, BaseSyncRepository, Settings, get_provider, get_sync_provider
from toolkit.storage_dependencies import dispose_engines
from toolkit.sync_storage_dependencies import dispose_engines as dispose_sync_engines

T = TypeVar("T")
Row = dict[str, Any]
Timings = list[dict[str, list[float]]]  # per workload: side -> seconds per round
PG = "postgres@127.0.0.1:5432"
COLUMNS = "name, secret_name, age, team_id"
values = itemgetter(*COLUMNS.split(", "))  # a dict's values, as the drivers take them
INSERT = f"INSERT INTO raw_hero ({COLUMNS}) VALUES ({{}})"
RETURNING = f" RETURNING id, {COLUMNS}"
SELECT = f"SELECT id, {COLUMNS} FROM raw_hero"
LIST = f"{SELECT} ORDER BY id"
TABLE = (
    "CREATE TABLE IF NOT EXISTS raw_hero (id {} PRIMARY KEY, name VARCHAR(100) NOT NULL,"
    " secret_name VARCHAR(100) NOT NULL, age INTEGER,"
    " team_id INTEGER REFERENCES team (id) ON DELETE RESTRICT)"
)
INDEX = "CREATE INDEX IF NOT EXISTS ix_raw_hero_name ON raw_hero (name)"
SETUP = {  # after the toolkit made hero and team; raw_hero refers to team
    "postgres": (TABLE.format("SERIAL"), INDEX),
    "sqlite": (TABLE.format("INTEGER"), INDEX, "PRAGMA synchronous=NORMAL"),
}
RESET = {
    "postgres": ("TRUNCATE hero, raw_hero",),
    "sqlite": ("DELETE FROM hero", "DELETE FROM raw_hero"),
}
RAW_NAMES = {"postgres": ("asyncpg", "psycopg2"), "sqlite": ("aiosqlite", "sqlite3")}
WORKLOADS = (
    "1. insert one row per call [rows/s]",
    "2. get by primary key [ops/s]",
    "3. bulk insert, one call [rows/s]",
    "4. list all rows [rows/s]",
)


class Side(Protocol):
    """One contender; an async side returns awaitables."""

    def insert(self, rows: list[Row]) -> list[int] | Awaitable[list[int]]: ...
    def get(self, ids: list[int]) -> Awaitable[None] | None: ...
    def bulk(self, rows: list[Row]) -> Awaitable[None] | None: ...
    def list_all(self) -> int | Awaitable[int]: ...


class AsyncpgRaw:
    INSERT, GET = INSERT.format("$1, $2, $3, $4"), f"{SELECT} WHERE id = $1"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def insert(self, rows: list[Row]) -> list[int]:
        fetch, sql = self.conn.fetchrow, self.INSERT + RETURNING
        return [(await fetch(sql, *values(row)))[0] for row in rows]

    async def get(self, ids: list[int]) -> None:
        for id_ in ids:
            await self.conn.fetchrow(self.GET, id_)

    async def bulk(self, rows: list[Row]) -> None:  # executemany runs in one transaction
        await self.conn.executemany(self.INSERT, [values(row) for row in rows])

    async def list_all(self) -> int:
        return len(await self.conn.fetch(LIST))


class AiosqliteRaw:
    INSERT, GET = INSERT.format("?, ?, ?, ?"), f"{SELECT} WHERE id = ?"

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def insert(self, rows: list[Row]) -> list[int]:
        fetch, sql = self.conn.execute_fetchall, self.INSERT + RETURNING
        return [next(iter(await fetch(sql, values(row))))[0] for row in rows]

    async def get(self, ids: list[int]) -> None:
        for id_ in ids:
            await self.conn.execute_fetchall(self.GET, (id_,))

    async def bulk(self, rows: list[Row]) -> None:
        await self.conn.execute("BEGIN")
        await self.conn.executemany(self.INSERT, [values(row) for row in rows])
        await self.conn.execute("COMMIT")

    async def list_all(self) -> int:
        return len(list(await self.conn.execute_fetchall(LIST)))


class DbapiRaw:
    """psycopg2 or sqlite3, in autocommit mode, on one reused cursor."""

    def __init__(self, conn: Any, mark: str) -> None:
        self.cur, self.mark = conn.cursor(), mark
        self.INSERT, self.GET = INSERT.format(", ".join([mark] * 4)), f"{SELECT} WHERE id = {mark}"

    def insert(self, rows: list[Row]) -> list[int]:
        ids: list[int] = []
        for row in rows:
            self.cur.execute(self.INSERT + RETURNING, values(row))
            ids.append(self.cur.fetchall()[0][0])
        return ids

    def get(self, ids: list[int]) -> None:
        for id_ in ids:
            self.cur.execute(self.GET, (id_,))
            self.cur.fetchone()

    def bulk(self, rows: list[Row]) -> None:
        self.cur.execute("BEGIN")
        params = [values(row) for row in rows]
        if self.mark == "%s":  # psycopg2: multi-row VALUES pages (executemany is row by row)
            insert = f"INSERT INTO raw_hero ({COLUMNS}) VALUES %s"
            psycopg2.extras.execute_values(self.cur, insert, params, page_size=1000)
        else:
            self.cur.executemany(self.INSERT, params)
        self.cur.execute("COMMIT")

    def list_all(self) -> int:
        self.cur.execute(LIST)
        return len(self.cur.fetchall())


class ToolkitAsync:
    def __init__(self, repo: BaseRepository[Hero]) -> None:
        self.repo = repo

    async def insert(self, rows: list[Row]) -> list[int]:
        return [cast(int, (await self.repo.create(Hero(**row))).id) for row in rows]

    async def get(self, ids: list[int]) -> None:
        for id_ in ids:
            await self.repo.get(id_)

    async def bulk(self, rows: list[Row]) -> None:
        await self.repo.create_many([Hero(**row) for row in rows])

    async def list_all(self) -> int:
        return len(await self.repo.list())


class ToolkitSync:
    def __init__(self, repo: BaseSyncRepository[Hero]) -> None:
        self.repo = repo

    def insert(self, rows: list[Row]) -> list[int]:
        return [cast(int, self.repo.create(Hero(**row)).id) for row in rows]

    def get(self, ids: list[int]) -> None:
        for id_ in ids:
            self.repo.get(id_)

    def bulk(self, rows: list[Row]) -> None:
        self.repo.create_many([Hero(**row) for row in rows])

    def list_all(self) -> int:
        return len(self.repo.list())


async def done(value: T | Awaitable[T]) -> T:
    return cast(T, await value) if inspect.isawaitable(value) else value


async def timed(call: Callable[..., T | Awaitable[T]], *args: Any) -> tuple[float, T]:
    start = time.perf_counter()
    result = await done(call(*args))
    return time.perf_counter() - start, result


def hero_dicts(count: int, first: int) -> list[Row]:
    return [
        {"name": f"Hero {n}", "secret_name": f"Secret {n}", "age": n % 100, "team_id": None}
        for n in range(first, first + count)
    ]


async def measure(
    raw: Side, toolkit: Side, execute: Callable[[str], object], backend: str, args: Any
) -> Timings:
    """A warm-up round (not recorded), then ``args.rounds`` rounds of the four workloads."""
    timings: Timings = [{"raw": [], "toolkit": []} for _ in WORKLOADS]
    for statement in SETUP[backend]:
        await done(execute(statement))
    for round_ in range(-1, args.rounds):
        ops, rows, reps = (10, 10, 1) if round_ < 0 else (args.ops, args.rows, args.reps)
        order = [("raw", raw), ("toolkit", toolkit)][:: 1 if round_ % 2 == 0 else -1]
        single, many = hero_dicts(ops, 0), hero_dicts(rows, ops)
        runs: list[list[float]] = [[], [], [], []]
        ids: dict[str, list[int]] = {}
        for step in range(6):
            if step in (0, 3):  # empty both tables before the single and the bulk inserts
                for statement in RESET[backend]:
                    await done(execute(statement))
                continue
            for name, side in order:
                if step == 1:
                    seconds, ids[name] = await timed(side.insert, single)
                elif step == 2:
                    seconds = (await timed(side.get, ids[name]))[0]
                elif step == 4:
                    seconds = (await timed(side.bulk, many))[0]
                else:
                    lists = [await timed(side.list_all) for _ in range(reps)]
                    assert all(count == rows for _, count in lists), (name, lists)
                    seconds = sum(elapsed for elapsed, _ in lists)
                runs[step - 1 - step // 3].append(seconds)
        for workload, pair in zip(timings, runs, strict=True):
            for (name, _), seconds in zip(order, pair, strict=True):
                workload[name] += [seconds] if round_ >= 0 else []
    return timings


async def run_async(backend: str, settings: Settings, args: Any) -> Timings:
    raw: AsyncpgRaw | AiosqliteRaw
    if backend == "postgres":
        raw = AsyncpgRaw(await asyncpg.connect(f"postgresql://{PG}/{args.db}"))
    else:
        raw = AiosqliteRaw(await aiosqlite.connect(args.sqlite_path, isolation_level=None))
    try:
        async with get_provider(backend, settings=settings) as provider:
            repo = provider.get_repository(Hero)
            await repo.list()  # makes the tables hero and team
            return await measure(raw, ToolkitAsync(repo), raw.conn.execute, backend, args)
    finally:
        await raw.conn.close()
        await dispose_engines()


def run_sync(backend: str, settings: Settings, args: Any) -> Timings:
    if backend == "postgres":
        conn: Any = psycopg2.connect(f"postgresql://{PG}/{args.db}")
        conn.autocommit = True
    else:
        conn = sqlite3.connect(args.sqlite_path, isolation_level=None)
    raw = DbapiRaw(conn, "%s" if backend == "postgres" else "?")
    try:
        with get_sync_provider(backend, settings=settings) as provider:
            repo = provider.get_repository(Hero)
            repo.list()  # makes the tables hero and team
            toolkit = ToolkitSync(repo)
            return asyncio.run(measure(raw, toolkit, raw.cur.execute, backend, args))
    finally:
        conn.close()
        dispose_sync_engines()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database with a random name, dropped (WITH FORCE) at the end."""
    name, admin = f"bench_{secrets.token_hex(6)}", psycopg2.connect(f"postgresql://{PG}/postgres")
    admin.autocommit = True
    try:
        admin.cursor().execute(f"CREATE DATABASE {name}")
        yield name
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """The raw side's synchronous=NORMAL, on the toolkit's SQLite connections."""
    if isinstance(dbapi_connection, sqlite3.Connection | AsyncAdapt_aiosqlite_connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def report(title: str, counts: list[int], timings: Timings) -> None:
    print(f"\n## {title}\n\n| workload | raw | toolkit | raw/toolkit time |\n|---|---|---|---|")
    for name, count, runs in zip(WORKLOADS, counts, timings, strict=True):
        raw, tk = statistics.median(runs["raw"]), statistics.median(runs["toolkit"])
        ratio = statistics.median(t / r for r, t in zip(runs["raw"], runs["toolkit"], strict=True))
        print(f"| {name} | {count / raw:,.0f} | {count / tk:,.0f} | {ratio:.2f}x |", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The toolkit against the raw drivers.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=2000, help="rows for bulk insert and list")
    parser.add_argument("--ops", type=int, default=1000, help="calls for insert and get")
    parser.add_argument("--reps", type=int, default=10, help="list calls per round")
    parser.add_argument("--backend", choices=["postgres", "sqlite", "all"], default="all")
    parser.add_argument("--mode", choices=["async", "sync", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.rows, args.ops, args.reps = 1, 40, 20, 2
    backends = ["postgres", "sqlite"] if args.backend == "all" else [args.backend]
    modes = ["async", "sync"] if args.mode == "all" else [args.mode]
    print(
        f"rounds={args.rounds} ops={args.ops} rows={args.rows} list calls/round={args.reps}; "
        "figures: medians; ratio = toolkit time / raw time (1.00 = raw), median of pairs.\n"
        "raw: autocommit, one INSERT ... RETURNING per row; bulk: one transaction, executemany /"
        " execute_values without RETURNING. SQLite: WAL, synchronous=NORMAL on both sides\n"
        "(the toolkit's connections get it from a SQLAlchemy connect listener of this script)."
    )
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        db = stack.enter_context(postgres_database()) if "postgres" in backends else ""
        args.db, args.sqlite_path = db, str(Path(tmp) / "bench.db")
        settings = Settings(
            postgres_url=f"postgresql+asyncpg://{PG}/{db}",
            sqlite_url=f"sqlite+aiosqlite:///{args.sqlite_path}",
        )
        if "sqlite" in backends:
            conn = sqlite3.connect(args.sqlite_path)
            conn.execute("PRAGMA journal_mode=WAL")  # kept by the file: both sides get it
            conn.close()
            event.listen(Engine, "connect", sqlite_pragmas)
        for backend in backends:
            for mode in modes:
                if mode == "async":
                    timings = asyncio.run(run_async(backend, settings, args))
                else:
                    timings = run_sync(backend, settings, args)
                counts = [args.ops, args.ops, args.rows, args.rows * args.reps]
                raw_name = RAW_NAMES[backend][mode == "sync"]
                report(f"{backend} / {mode} (raw = {raw_name})", counts, timings)


if __name__ == "__main__":
    main()
