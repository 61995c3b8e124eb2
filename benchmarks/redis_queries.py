"""Redis queries: raw redis-py, the toolkit and redis-om, interleaved in one process:
``python -m benchmarks.redis_queries`` (``--quick`` for a smoke run under a minute).

Three workloads on one model, `BenchUser`, at two sizes (10,000 and 100,000 documents):

- list: ``age`` in a range that matches a FIXED number of rows at every size (1,100), limit 100;
- count: the same range;
- first: the one row with a given (unique) ``email``.

Contenders, each round in a rotating order (each goes first in turn):

- raw (the 1.00 reference): redis-py sending the hand-written query to the toolkit's own index
  and documents, answers as plain dicts (``json.loads`` of each document);
- toolkit: ``repository.list / count / first`` with ``col()`` conditions, answers as
  `BenchUser` instances;
- redis-om: a ``JsonModel`` of the same fields (``index=True`` on ``email`` and ``age``), its
  own copy of the data under its own prefix, its index made by ``Migrator``, answers as its
  models.

Figures are medians over the rounds of each batch's time per call; ratio = side time / raw
time, the median of the per-round pairs (1.00 = raw; above 1, slower). The scaling figures are
each contender's median time per call at the larger size over the same at the smaller one.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import inspect
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast
from urllib.parse import urlsplit

import redis
import redis.asyncio
from sqlmodel import Field, SQLModel, col

from tests.redis_server import redis_stack_server
from toolkit import BaseRepository, BaseSyncRepository, Settings, get_provider, get_sync_provider
from toolkit.storage_dependencies import dispose_engines
from toolkit.sync_storage_dependencies import dispose_engines as dispose_sync_engines

T = TypeVar("T")
Row = dict[str, Any]
Command = tuple[str | int, ...]
Timings = dict[str, dict[str, list[float]]]  # workload -> side -> seconds per call, per round

TABLE = "bench_user"
LIMIT = 100
CHUNK = 10_000  # documents per create_many call / redis-om pipeline
FIRST_AGE = 20  # the range starts here; ages run from 0 to size / per_age - 1
RANGE_AGES = 11  # ages in the range: RANGE_AGES * per_age rows match it, at every size
SIDES = ("raw", "toolkit", "redis-om")
RESULTS = Path(__file__).resolve().parent / "REDIS_RESULTS.md"


class BenchUser(SQLModel, table=True):
    """The benchmark's model: ``email`` unique, ``age`` indexed."""

    __tablename__ = TABLE

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True)
    age: int = Field(index=True)
    name: str
    score: float


@dataclass(frozen=True, slots=True)
class Spec:
    """One size's data and what the workloads ask of it."""

    size: int
    per_age: int  # rows of each age

    @property
    def ages(self) -> int:
        return self.size // self.per_age

    @property
    def lo(self) -> int:
        return FIRST_AGE

    @property
    def hi(self) -> int:
        return FIRST_AGE + RANGE_AGES - 1

    @property
    def matches(self) -> int:
        return RANGE_AGES * self.per_age

    def rows(self, start: int, stop: int) -> list[Row]:
        """Rows ``start + 1`` to ``stop`` (ids from 1): age cycles, so ids of every age spread
        over the whole key space."""
        return [
            {
                "id": n,
                "email": f"user{n}@example.com",
                "age": n % self.ages,
                "name": f"User {n}",
                "score": round((n * 0.37) % 100, 2),
            }
            for n in range(start + 1, stop + 1)
        ]

    def emails(self, count: int) -> list[str]:
        """``count`` distinct e-mail addresses, spread over the ids."""
        return [f"user{1 + (i * 7919) % self.size}@example.com" for i in range(count)]


@dataclass(frozen=True, slots=True)
class Workload:
    key: str
    method: str
    reps: int  # calls per timed batch

    def title(self, spec: Spec) -> str:
        where = f"age in [{spec.lo}, {spec.hi}] ({spec.matches:,} match)"
        if self.key == "list":
            return f"list: {where}, limit {LIMIT}"
        if self.key == "count":
            return f"count: {where}"
        return "first: email == value (unique)"

    def expected(self, spec: Spec, reps: int) -> int:
        """What a batch of ``reps`` calls returns: rows, counted rows, or rows found."""
        if self.key == "list":
            return reps * min(LIMIT, spec.matches)
        if self.key == "count":
            return reps * spec.matches
        return reps


class Side(Protocol):
    """One contender: each method makes ``reps`` calls; an async side returns awaitables."""

    def list_range(self, reps: int) -> int | Awaitable[int]: ...
    def count_range(self, reps: int) -> int | Awaitable[int]: ...
    def first_by_email(self, reps: int) -> int | Awaitable[int]: ...
    def last_ids(self) -> list[int]: ...  # the ids of the last list call's rows, in order


# --- raw redis-py ------------------------------------------------------------------------------


class RawQueries:
    """The hand-written commands, on the toolkit's index (``<prefix>:<table>:index``). The list
    sorts by ``id``, as the toolkit's ``list`` does (rows in primary key order), so that both
    return the same rows whatever order the documents were written in."""

    def __init__(self, prefix: str, spec: Spec) -> None:
        self.index = f"{prefix}:{TABLE}:index"
        self.emails = spec.emails(max(w.reps for w in WORKLOADS))
        where = f"@age:[{spec.lo} {spec.hi}]"
        self.list: Command = ("FT.AGGREGATE", self.index, where, "SORTBY", 2, "@id", "ASC")
        self.list += ("LIMIT", 0, LIMIT, "LOAD", 1, "$", "DIALECT", 2)
        self.count: Command = ("FT.SEARCH", self.index, where, "NOCONTENT", "LIMIT", 0, 0)
        self.count += ("DIALECT", 2)
        self.last: list[Row] = []

    def first(self, email: str) -> Command:
        query = ("FT.SEARCH", self.index, "@email:{$v}", "PARAMS", 2, "v", email)
        return (*query, "LIMIT", 0, 1, "DIALECT", 2)

    def last_ids(self) -> list[int]:
        return [row["id"] for row in self.last]


def documents(reply: Any) -> list[Row]:
    """The documents of an FT.AGGREGATE ``LOAD 1 $`` or FT.SEARCH reply (a RESP3 map)."""
    return [json.loads(result["extra_attributes"]["$"]) for result in reply["results"]]


class RawSync(RawQueries):
    def __init__(self, client: redis.Redis[str], prefix: str, spec: Spec) -> None:
        super().__init__(prefix, spec)
        self.execute: Any = client.execute_command

    def list_range(self, reps: int) -> int:
        rows = 0
        for _ in range(reps):
            self.last = documents(self.execute(*self.list))
            rows += len(self.last)
        return rows

    def count_range(self, reps: int) -> int:
        return sum(int(self.execute(*self.count)["total_results"]) for _ in range(reps))

    def first_by_email(self, reps: int) -> int:
        found = 0
        for email in self.emails[:reps]:
            rows = documents(self.execute(*self.first(email)))
            found += rows[0]["email"] == email
        return found


class RawAsync(RawQueries):
    def __init__(self, client: redis.asyncio.Redis[str], prefix: str, spec: Spec) -> None:
        super().__init__(prefix, spec)
        self.execute: Any = client.execute_command

    async def list_range(self, reps: int) -> int:
        rows = 0
        for _ in range(reps):
            self.last = documents(await self.execute(*self.list))
            rows += len(self.last)
        return rows

    async def count_range(self, reps: int) -> int:
        return sum([int((await self.execute(*self.count))["total_results"]) for _ in range(reps)])

    async def first_by_email(self, reps: int) -> int:
        found = 0
        for email in self.emails[:reps]:
            rows = documents(await self.execute(*self.first(email)))
            found += rows[0]["email"] == email
        return found


# --- the toolkit and redis-om: model instances -------------------------------------------------


class Instances:
    """A side that answers with model instances (the toolkit's or redis-om's)."""

    def __init__(self, spec: Spec) -> None:
        self.lo, self.hi = spec.lo, spec.hi
        self.emails = spec.emails(max(w.reps for w in WORKLOADS))
        self.last: list[Any] = []

    def last_ids(self) -> list[int]:
        return [int(row.id) for row in self.last]


class ToolkitSync(Instances):
    def __init__(self, repo: BaseSyncRepository[BenchUser], spec: Spec) -> None:
        super().__init__(spec)
        self.repo = repo

    def list_range(self, reps: int) -> int:
        age, lo, hi, rows = BenchUser.age, self.lo, self.hi, 0
        for _ in range(reps):
            self.last = self.repo.list(col(age) >= lo, col(age) <= hi, limit=LIMIT)
            rows += len(self.last)
        return rows

    def count_range(self, reps: int) -> int:
        age, lo, hi = BenchUser.age, self.lo, self.hi
        return sum(self.repo.count(col(age) >= lo, col(age) <= hi) for _ in range(reps))

    def first_by_email(self, reps: int) -> int:
        found = 0
        for email in self.emails[:reps]:
            user = self.repo.first(col(BenchUser.email) == email)
            found += user is not None and user.email == email
        return found


class ToolkitAsync(Instances):
    def __init__(self, repo: BaseRepository[BenchUser], spec: Spec) -> None:
        super().__init__(spec)
        self.repo = repo

    async def list_range(self, reps: int) -> int:
        age, lo, hi, rows = BenchUser.age, self.lo, self.hi, 0
        for _ in range(reps):
            self.last = await self.repo.list(col(age) >= lo, col(age) <= hi, limit=LIMIT)
            rows += len(self.last)
        return rows

    async def count_range(self, reps: int) -> int:
        age, lo, hi = BenchUser.age, self.lo, self.hi
        return sum([await self.repo.count(col(age) >= lo, col(age) <= hi) for _ in range(reps)])

    async def first_by_email(self, reps: int) -> int:
        found = 0
        for email in self.emails[:reps]:
            user = await self.repo.first(col(BenchUser.email) == email)
            found += user is not None and user.email == email
        return found


def om_model(package: Any, database: Any, prefix: str, size: int) -> Any:
    """A redis-om ``JsonModel`` of `BenchUser`'s fields, under ``prefix``; redis-om is untyped
    to this file (``Any``), so the class is made by `types.new_class` rather than declared."""
    meta = type(
        "Meta", (), {"global_key_prefix": prefix, "model_key_prefix": TABLE, "database": database}
    )

    def body(namespace: dict[str, Any]) -> None:
        namespace.update(
            __module__=__name__,
            __annotations__={"id": int, "email": str, "age": int, "name": str, "score": float},
            id=package.Field(primary_key=True),
            email=package.Field(index=True),
            age=package.Field(index=True),
            Meta=meta,
        )

    # A name per size: redis-om registers each indexed model by its qualified name.
    return types.new_class(f"OmUser{size}", (package.JsonModel,), {"index": True}, body)


class OmSync(Instances):
    def __init__(self, model: Any, spec: Spec) -> None:
        super().__init__(spec)
        self.model = model

    def list_range(self, reps: int) -> int:
        m, lo, hi, rows = self.model, self.lo, self.hi, 0
        for _ in range(reps):
            self.last = m.find((m.age >= lo) & (m.age <= hi)).page(0, LIMIT)
            rows += len(self.last)
        return rows

    def count_range(self, reps: int) -> int:
        m, lo, hi = self.model, self.lo, self.hi
        return sum(int(m.find((m.age >= lo) & (m.age <= hi)).count()) for _ in range(reps))

    def first_by_email(self, reps: int) -> int:
        found, m = 0, self.model
        for email in self.emails[:reps]:
            found += m.find(m.email == email).first().email == email
        return found


class OmAsync(Instances):
    def __init__(self, model: Any, spec: Spec) -> None:
        super().__init__(spec)
        self.model = model

    async def list_range(self, reps: int) -> int:
        m, lo, hi, rows = self.model, self.lo, self.hi, 0
        for _ in range(reps):
            self.last = await m.find((m.age >= lo) & (m.age <= hi)).page(0, LIMIT)
            rows += len(self.last)
        return rows

    async def count_range(self, reps: int) -> int:
        m, lo, hi = self.model, self.lo, self.hi
        return sum([int(await m.find((m.age >= lo) & (m.age <= hi)).count()) for _ in range(reps)])

    async def first_by_email(self, reps: int) -> int:
        found, m = 0, self.model
        for email in self.emails[:reps]:
            found += (await m.find(m.email == email).first()).email == email
        return found


# --- timing ------------------------------------------------------------------------------------

WORKLOADS = (
    Workload("list", "list_range", 200),
    Workload("count", "count_range", 1000),
    Workload("first", "first_by_email", 1000),
)


async def done(value: T | Awaitable[T]) -> T:
    return cast(T, await value) if inspect.isawaitable(value) else value


async def timed(call: Callable[[int], int | Awaitable[int]], reps: int) -> tuple[float, int]:
    start = time.perf_counter()
    result = await done(call(reps))
    return time.perf_counter() - start, result


async def measure_and_capture(
    url: str, sides: dict[str, Side], spec: Spec, args: Any, capture: bool
) -> tuple[Timings, list[str]]:
    timings = await measure(sides, spec, args.workloads, args.rounds)
    return timings, (await commands_sent(url, sides, args.workloads) if capture else [])


async def measure(
    sides: dict[str, Side], spec: Spec, workloads: tuple[Workload, ...], rounds: int
) -> Timings:
    """A warm-up round (not recorded), then ``rounds`` rounds: in each, every workload on every
    side, the sides in an order that rotates from round to round. Every batch's answers are
    checked; after the warm-up, that every side listed the same rows in the same order."""
    timings: Timings = {w.key: {name: [] for name in sides} for w in workloads}
    names = list(sides)
    for round_ in range(-1, rounds):
        shift = round_ % len(names)
        order = names[shift:] + names[:shift]
        for workload in workloads:
            reps = min(5, workload.reps) if round_ < 0 else workload.reps
            for name in order:
                seconds, result = await timed(getattr(sides[name], workload.method), reps)
                expected = workload.expected(spec, reps)
                if result != expected:
                    raise AssertionError(f"{name} {workload.key}: {result} != {expected}")
                if round_ >= 0:
                    timings[workload.key][name].append(seconds / reps)
        if round_ < 0:
            listed = {name: side.last_ids() for name, side in sides.items()}
            if len({tuple(ids) for ids in listed.values()}) != 1:
                raise AssertionError(f"the sides listed different rows: {listed}")
    return timings


MARK = "benchmarks.redis_queries: end of call"


async def sent(url: str, side: Side, workload: Workload) -> list[str]:
    """The commands the server receives during one call of ``workload`` (seen by MONITOR)."""
    watcher = redis.Redis.from_url(url, decode_responses=True)
    marker = redis.Redis.from_url(url, decode_responses=True)
    try:
        marker.ping()  # its connection opened before MONITOR starts: no handshake in the log
        monitor: Any = watcher.monitor()
        with monitor:
            await done(getattr(side, workload.method)(1))
            marker.execute_command("ECHO", MARK)
            commands: list[str] = []
            while True:  # lines: <time> [<db> <client>] "COMMAND" "argument"...
                command = str(monitor.connection.read_response()).split("] ", 1)[-1]
                if MARK in command:
                    return commands
                commands.append(command)
    finally:
        watcher.close()
        marker.close()


async def commands_sent(
    url: str, sides: dict[str, Side], workloads: tuple[Workload, ...]
) -> list[str]:
    """Markdown: what each side sends for one call of each workload."""
    lines = []
    for workload in workloads:
        for name, side in sides.items():
            for command in await sent(url, side, workload):
                lines.append(f"- {name} / {workload.key}: `{command}`")
    return lines


# --- the data ----------------------------------------------------------------------------------


def settings_for(url: str, prefix: str) -> Settings:
    return Settings(backend="redis", redis_url=url, redis_key_prefix=prefix)


def load(url: str, spec: Spec, prefixes: dict[str, str], om: Any) -> Any:
    """The toolkit's documents (create_many) and redis-om's (its ``add``, one pipeline per
    chunk), both made from the same rows; returns the sync redis-om model."""
    database = om.get_redis_connection(url=url)
    model = om_model(om, database, prefixes["redis-om"], spec.size)
    om.Migrator(conn=database).run()
    with get_sync_provider("redis", settings=settings_for(url, prefixes["toolkit"])) as provider:
        repo = provider.get_repository(BenchUser)
        for start in range(0, spec.size, CHUNK):
            rows = spec.rows(start, min(start + CHUNK, spec.size))
            repo.create_many([BenchUser(**row) for row in rows])
            model.add([model(**row) for row in rows])
        assert repo.count() == spec.size
    return model


def run_sync(
    url: str, spec: Spec, prefixes: dict[str, str], model: Any, args: Any, capture: bool
) -> tuple[Timings, list[str]]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        with get_sync_provider(
            "redis", settings=settings_for(url, prefixes["toolkit"])
        ) as provider:
            sides: dict[str, Side] = {
                "raw": RawSync(client, prefixes["toolkit"], spec),
                "toolkit": ToolkitSync(provider.get_repository(BenchUser), spec),
                "redis-om": OmSync(model, spec),
            }
            return asyncio.run(measure_and_capture(url, sides, spec, args, capture))
    finally:
        client.close()


async def run_async(
    url: str, spec: Spec, prefixes: dict[str, str], aom: Any, args: Any, capture: bool
) -> tuple[Timings, list[str]]:
    client: Any = redis.asyncio.Redis.from_url(url, decode_responses=True)  # stubs: no aclose
    database = aom.get_redis_connection(url=url)
    model = om_model(aom, database, prefixes["redis-om"], spec.size)
    await aom.Migrator(conn=database).run()  # the index exists (same schema): nothing to do
    try:
        async with get_provider(
            "redis", settings=settings_for(url, prefixes["toolkit"])
        ) as provider:
            sides: dict[str, Side] = {
                "raw": RawAsync(client, prefixes["toolkit"], spec),
                "toolkit": ToolkitAsync(provider.get_repository(BenchUser), spec),
                "redis-om": OmAsync(model, spec),
            }
            return await measure_and_capture(url, sides, spec, args, capture)
    finally:
        await client.aclose()
        await database.aclose()
        await dispose_engines()


def cleanup(url: str, base: str) -> None:
    """Drop this run's indexes and documents (on a server given by ``--redis-url``)."""
    client = redis.Redis.from_url(url, decode_responses=True)
    execute: Any = client.execute_command
    try:
        for index in execute("FT._LIST"):
            if str(index).startswith(base):
                execute("FT.DROPINDEX", index)
        keys = list(client.scan_iter(match=f"{base}*", count=1000))
        for start in range(0, len(keys), 1000):
            client.unlink(*keys[start : start + 1000])
    finally:
        client.close()


# --- the report --------------------------------------------------------------------------------


def per_second(seconds: float) -> str:
    return f"{1 / seconds:,.0f}"


def table(mode: str, spec: Spec, timings: Timings, workloads: tuple[Workload, ...]) -> list[str]:
    lines = [
        f"### {mode} / {spec.size:,} documents",
        "",
        "| workload | raw ops/s | toolkit ops/s (ratio) | redis-om ops/s (ratio) |",
        "|---|---:|---:|---:|",
    ]
    for workload in workloads:
        runs = timings[workload.key]
        cells = [per_second(statistics.median(runs["raw"]))]
        for name in SIDES[1:]:
            ratio = statistics.median(s / r for s, r in zip(runs[name], runs["raw"], strict=True))
            cells.append(f"{per_second(statistics.median(runs[name]))} ({ratio:.2f}x)")
        lines.append(f"| {workload.title(spec)} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def scaling(
    mode: str, small: Spec, large: Spec, results: dict[tuple[str, int], Timings], args: Any
) -> list[str]:
    lines = [
        f"### {mode}: scaling {small.size:,} -> {large.size:,} documents",
        "",
        "Median time per call at the larger size / at the smaller (at most 1.50x: scales).",
        "",
        "| workload | " + " | ".join(SIDES) + " |",
        "|---|" + "---:|" * len(SIDES),
    ]
    for workload in args.workloads:
        cells = []
        for name in SIDES:
            before = statistics.median(results[mode, small.size][workload.key][name])
            after = statistics.median(results[mode, large.size][workload.key][name])
            ratio = after / before
            cells.append(f"{ratio:.2f}x" + ("" if ratio <= 1.5 else " (over 1.5x)"))
        lines.append(f"| {workload.key} | " + " | ".join(cells) + " |")
    return [*lines, ""]


NOTES = """\
- Every side makes one round trip per call (commands sent in one pipeline count as one); what
  each sends is listed under its mode's first table, as the server saw it. Each side's answers
  are checked in every batch, and after the warm-up, that the three sides listed the same 100
  rows in the same order.
- raw and the toolkit return the first 100 matches by `id` (the toolkit's `list` orders by
  the primary key; raw asks for it with `SORTBY 2 @id ASC`). redis-om's `page(0, 100)` asks
  for no order: it returns the index's own order, the order the documents were written in,
  which here is `id` order, so the rows are the same, but the server does no sorting for it.
- **redis-om's count() cannot send what the workload asks for**: it copies the query with
  `limit=0`, which its `FindQuery` turns into its default page size, so it sends `FT.SEARCH
  ... LIMIT 0 1000 NOCONTENT` and receives up to 1,000 document ids besides the total. The
  number it returns is exact.
"""


def indexes(url: str, prefixes: dict[str, str]) -> list[str]:
    """Markdown: the fields of the toolkit's index (which raw queries too) and redis-om's."""
    client = redis.Redis.from_url(url, decode_responses=True)
    execute: Any = client.execute_command
    lines = []
    try:
        for name in ("toolkit", "redis-om"):
            info = execute("FT.INFO", f"{prefixes[name]}:{TABLE}:index")
            fields = [
                f"{field['attribute']} {field['type']} {' '.join(field.get('flags', []))}".strip()
                for field in info["attributes"]
            ]
            lines.append(f"- {name}'s index: " + "; ".join(fields))
    finally:
        client.close()
    return lines


def pin(url: str, cpu: int) -> None:
    """Run this process and every thread of the (local) server on ``cpu`` alone: on a machine
    where a round trip between two CPUs costs several times one on a shared CPU (a CPU that
    sleeps must be woken), where the scheduler puts the two would decide the figures."""
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        execute: Any = client.execute_command
        server = int(execute("INFO", "server")["process_id"])
    finally:
        client.close()
    for thread in os.listdir(f"/proc/{server}/task"):
        os.sched_setaffinity(int(thread), {cpu})
    os.sched_setaffinity(0, {cpu})


def toolkit_version() -> str:
    """The toolkit's commit, and whether its files differ from it (read-only git commands)."""
    root = Path(__file__).resolve().parent.parent

    def git(*arguments: str) -> str:
        command = ["git", "-C", str(root), *arguments]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--", "toolkit")
    except (OSError, subprocess.CalledProcessError):
        return "toolkit: commit unknown (no git)"
    return f"toolkit at commit {commit}" + (" with uncommitted changes" if changed else "")


def header(args: Any, url: str, own_server: bool) -> list[str]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        execute: Any = client.execute_command
        server = execute("INFO", "server")["redis_version"]
        modules = ", ".join(f"{m['name']} {m['ver']}" for m in execute("MODULE", "LIST"))
    finally:
        client.close()
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("redis", "redis-om", "pydantic")
    )
    where = "started by the benchmark" if own_server else "given by --redis-url"
    if args.cpu is not None:
        where += f"; it and the benchmark pinned to CPU {args.cpu}"
    sizes = " and ".join(f"{size:,}" for size in args.sizes)
    reps = ", ".join(f"{w.key} {w.reps}" for w in args.workloads)
    return [
        "# Redis queries: raw redis-py, the toolkit, redis-om",
        "",
        f"Command: `{args.command}`",
        "",
        f"- server: Redis {server} ({modules}), {where}, on {urlsplit(url).hostname};",
        f"- {toolkit_version()}; Python {platform.python_version()}, {versions};",
        f"- {platform.machine()}, {os.cpu_count()} CPUs; load average (1 min) at the start"
        f" {os.getloadavg()[0]:.2f};",
        f"- sizes {sizes} documents per contender; {args.rounds} rounds after a warm-up round;"
        f" calls per timed batch: {reps};",
        "- figures: medians over rounds of the time per call, as calls per second; ratio = side"
        " time / raw time (median of the per-round pairs; 1.00 = raw, above 1 = slower); the"
        " sides' order rotates every round.",
        "",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Redis queries: raw, the toolkit, redis-om.")
    parser.add_argument("--redis-url", help="a Redis with JSON and Search (default: start one)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated document counts")
    parser.add_argument("--mode", choices=["sync", "async", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="1,000 and 5,000 docs, 2 rounds")
    parser.add_argument(
        "--cpu",
        type=int,
        help="the CPU the server and the benchmark share (default: the last one this process may"
        " use, when the benchmark starts the server; -1: no pinning)",
    )
    parser.add_argument(
        "--output", type=Path, help=f"the Markdown report (default: {RESULTS.name}, not in --quick)"
    )
    args = parser.parse_args(argv)
    args.command = " ".join(["python -m benchmarks.redis_queries", *(argv or sys.argv[1:])])
    args.sizes = [int(size) for size in args.sizes.split(",")]
    per_age = 100
    args.workloads = WORKLOADS
    if args.quick:
        args.sizes, args.rounds, per_age = [1_000, 5_000], 2, 10
        args.workloads = tuple(Workload(w.key, w.method, w.reps // 5) for w in WORKLOADS)
    output = args.output if args.output is not None else (None if args.quick else RESULTS)
    specs = [Spec(size, per_age) for size in args.sizes]
    for spec in specs:
        if spec.ages < FIRST_AGE + RANGE_AGES or spec.size % per_age:
            parser.error(f"--sizes: {spec.size} is too small or not a multiple of {per_age}")
    modes = ["sync", "async"] if args.mode == "all" else [args.mode]
    if args.cpu is not None and args.cpu >= 0 and args.redis_url:
        parser.error("--cpu: only with a server the benchmark starts")
    if args.cpu is None and not args.redis_url and hasattr(os, "sched_setaffinity"):
        args.cpu = max(os.sched_getaffinity(0))
    if args.cpu is not None and args.cpu < 0:
        args.cpu = None
    om: Any = importlib.import_module("redis_om")
    aom: Any = importlib.import_module("aredis_om")
    base = f"rq{secrets.token_hex(3)}"  # every key and index of this run starts with it
    results: dict[tuple[str, int], Timings] = {}
    tables: dict[str, list[str]] = {mode: [] for mode in modes}
    captured: dict[str, list[str]] = {}  # mode -> what its sides sent, at the first size
    with ExitStack() as stack:
        url = args.redis_url or stack.enter_context(redis_stack_server(Path(tempfile.mkdtemp())))
        if args.redis_url:
            stack.callback(cleanup, url, base)
        stack.callback(dispose_sync_engines)
        if args.cpu is not None:
            pin(url, args.cpu)
        lines = header(args, url, not args.redis_url)
        print("\n".join(lines), flush=True)
        for spec in specs:
            prefixes = {"toolkit": f"{base}tk{spec.size}", "redis-om": f"{base}om{spec.size}"}
            started = time.perf_counter()
            model = load(url, spec, prefixes, om)
            print(
                f"loaded {spec.size:,} documents per contender in "
                f"{time.perf_counter() - started:.1f} s\n",
                flush=True,
            )
            for mode in modes:
                capture = spec is specs[0]
                if mode == "sync":
                    timings, commands = run_sync(url, spec, prefixes, model, args, capture)
                else:
                    run = run_async(url, spec, prefixes, aom, args, capture)
                    timings, commands = asyncio.run(run)
                results[mode, spec.size] = timings
                rendered = table(mode, spec, timings, args.workloads)
                same = [other for other, seen in captured.items() if seen == commands]
                if commands and same:
                    rendered += [f"Commands sent per call: the same as in {same[0]} mode.", ""]
                elif commands:
                    captured[mode] = commands
                    rendered += [
                        f"Commands sent per call ({mode}, {spec.size:,} documents; seen by"
                        " MONITOR after the timed rounds):",
                        "",
                        *commands,
                        "",
                    ]
                if commands and not same:
                    rendered += ["Indexes:", "", *indexes(url, prefixes), ""]
                tables[mode] += rendered
                print("\n".join(rendered), flush=True)
    report = [*lines]
    for mode in modes:
        report += [f"## {mode}", "", *tables[mode]]
        if len(specs) > 1:
            rendered = scaling(mode, specs[0], specs[-1], results, args)
            report += rendered
            print("\n".join(rendered), flush=True)
    ending = f"Load average (1 min) at the end: {os.getloadavg()[0]:.2f}."
    report += ["## Notes", "", NOTES, ending, ""]
    print(f"{NOTES}\n{ending}", flush=True)
    if output is not None:
        output.write_text("\n".join(report))
        print(f"written to {output}")


if __name__ == "__main__":
    main()
