"""The contenders of ``python -m benchmarks.compare``: one class per library and mode.

Every contender gets plain dicts and converts them inside the timed region; every method makes
all the calls of one timed batch. An async contender's methods are coroutines.

- insert(rows) -> ids: one row per call (each in its own transaction / session);
- get(ids): one call per key;
- bulk(rows): every row in one call;
- list_all() -> rows listed (model instances, or dicts for the raw drivers);
- filter(reps) -> rows listed by ``reps`` calls of ``age BETWEEN 30 AND 40`` ordered, limit 100.
"""

from __future__ import annotations

import json
import types
from typing import Any

from advanced_alchemy.filters import LimitOffset, OrderBy
from advanced_alchemy.repository import SQLAlchemyAsyncRepository, SQLAlchemySyncRepository
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import AsyncSession as SAAsyncSession
from sqlalchemy.orm import Session as SASession
from sqlmodel import Session, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from benchmarks import bench
from models.heroes import Hero
from toolkit import BaseRepository, BaseSyncRepository

Row = dict[str, Any]
LO, HI, LIMIT = 30, 40, 100
FILTER_SQL = f"{bench.SELECT} WHERE age BETWEEN {LO} AND {HI} ORDER BY age, id LIMIT {LIMIT}"
MGET_CHUNK = 1000


def between() -> tuple[Any, Any]:
    """``age`` from LO to HI, as two conditions (the toolkit's portable subset has no BETWEEN)."""
    return col(Hero.age) >= LO, col(Hero.age) <= HI


# --- raw SQL drivers (bench.py's, plus the filter) ----------------------------------------------


class AsyncpgRaw(bench.AsyncpgRaw):
    async def filter(self, reps: int) -> int:
        return sum([len(await self.conn.fetch(FILTER_SQL)) for _ in range(reps)])


class AiosqliteRaw(bench.AiosqliteRaw):
    async def filter(self, reps: int) -> int:
        return sum([len(list(await self.conn.execute_fetchall(FILTER_SQL))) for _ in range(reps)])


class DbapiRaw(bench.DbapiRaw):
    def filter(self, reps: int) -> int:
        rows = 0
        for _ in range(reps):
            self.cur.execute(FILTER_SQL)
            rows += len(self.cur.fetchall())
        return rows


# --- the toolkit ---------------------------------------------------------------------------------


class ToolkitAsync(bench.ToolkitAsync):
    """``create`` validates the model it is given (``Hero(**row)`` itself does not)."""

    def __init__(self, repo: BaseRepository[Hero]) -> None:
        super().__init__(repo)

    async def filter(self, reps: int) -> int:
        list_, order = self.repo.list, col(Hero.age)
        return sum([len(await list_(*between(), order_by=order, limit=LIMIT)) for _ in range(reps)])


class ToolkitSync(bench.ToolkitSync):
    def __init__(self, repo: BaseSyncRepository[Hero]) -> None:
        super().__init__(repo)

    def filter(self, reps: int) -> int:
        list_, order = self.repo.list, col(Hero.age)
        return sum(len(list_(*between(), order_by=order, limit=LIMIT)) for _ in range(reps))


# --- the SQLModel session: a session per call, expire_on_commit=False -------------------------


def filter_statement() -> Any:
    return select(Hero).where(*between()).order_by(col(Hero.age), col(Hero.id)).limit(LIMIT)


class SessionAsync:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def session(self) -> AsyncSession:
        return AsyncSession(self.engine, expire_on_commit=False)

    async def insert(self, rows: list[Row]) -> list[int]:
        ids: list[int] = []
        for row in rows:
            async with self.session() as session:
                hero = Hero.model_validate(row)
                session.add(hero)
                await session.commit()
                ids.append(hero.id or 0)
        return ids

    async def get(self, ids: list[int]) -> None:
        for id_ in ids:
            async with self.session() as session:
                await session.get(Hero, id_)

    async def bulk(self, rows: list[Row]) -> None:
        async with self.session() as session:
            session.add_all([Hero.model_validate(row) for row in rows])
            await session.commit()

    async def list_all(self) -> int:
        async with self.session() as session:
            return len((await session.exec(select(Hero).order_by(col(Hero.id)))).all())

    async def filter(self, reps: int) -> int:
        rows = 0
        for _ in range(reps):
            async with self.session() as session:
                rows += len((await session.exec(filter_statement())).all())
        return rows


class SessionSync:
    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def insert(self, rows: list[Row]) -> list[int]:
        ids: list[int] = []
        for row in rows:
            with self.session() as session:
                hero = Hero.model_validate(row)
                session.add(hero)
                session.commit()
                ids.append(hero.id or 0)
        return ids

    def get(self, ids: list[int]) -> None:
        for id_ in ids:
            with self.session() as session:
                session.get(Hero, id_)

    def bulk(self, rows: list[Row]) -> None:
        with self.session() as session:
            session.add_all([Hero.model_validate(row) for row in rows])
            session.commit()

    def list_all(self) -> int:
        with self.session() as session:
            return len(session.exec(select(Hero).order_by(col(Hero.id))).all())

    def filter(self, reps: int) -> int:
        rows = 0
        for _ in range(reps):
            with self.session() as session:
                rows += len(session.exec(filter_statement()).all())
        return rows


# --- advanced-alchemy's repository: auto_commit=True, a session per call ----------------------


class AAHeroAsync(SQLAlchemyAsyncRepository[Hero]):  # type: ignore[type-var]
    model_type = Hero


class AAHeroSync(SQLAlchemySyncRepository[Hero]):  # type: ignore[type-var]
    model_type = Hero


def aa_filters() -> tuple[Any, ...]:
    return (*between(), OrderBy("age", "asc"), OrderBy("id", "asc"), LimitOffset(LIMIT, 0))


class AAAsync:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def session(self) -> SAAsyncSession:
        return SAAsyncSession(self.engine, expire_on_commit=False)

    async def insert(self, rows: list[Row]) -> list[int]:
        ids: list[int] = []
        for row in rows:
            async with self.session() as session:
                repo: Any = AAHeroAsync(session=session, auto_commit=True)
                ids.append((await repo.add(Hero.model_validate(row))).id)
        return ids

    async def get(self, ids: list[int]) -> None:
        for id_ in ids:
            async with self.session() as session:
                repo: Any = AAHeroAsync(session=session, auto_commit=True)
                await repo.get(id_)

    async def bulk(self, rows: list[Row]) -> None:
        async with self.session() as session:
            repo: Any = AAHeroAsync(session=session, auto_commit=True)
            await repo.add_many([Hero.model_validate(row) for row in rows])

    async def list_all(self) -> int:
        async with self.session() as session:
            repo: Any = AAHeroAsync(session=session, auto_commit=True)
            return len(await repo.list(OrderBy("id", "asc")))

    async def filter(self, reps: int) -> int:
        rows = 0
        for _ in range(reps):
            async with self.session() as session:
                repo: Any = AAHeroAsync(session=session, auto_commit=True)
                rows += len(await repo.list(*aa_filters()))
        return rows


class AASync:
    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def session(self) -> SASession:
        return SASession(self.engine, expire_on_commit=False)

    def insert(self, rows: list[Row]) -> list[int]:
        ids: list[int] = []
        for row in rows:
            with self.session() as session:
                repo: Any = AAHeroSync(session=session, auto_commit=True)
                ids.append(repo.add(Hero.model_validate(row)).id)
        return ids

    def get(self, ids: list[int]) -> None:
        for id_ in ids:
            with self.session() as session:
                repo: Any = AAHeroSync(session=session, auto_commit=True)
                repo.get(id_)

    def bulk(self, rows: list[Row]) -> None:
        with self.session() as session:
            repo: Any = AAHeroSync(session=session, auto_commit=True)
            repo.add_many([Hero.model_validate(row) for row in rows])

    def list_all(self) -> int:
        with self.session() as session:
            repo: Any = AAHeroSync(session=session, auto_commit=True)
            return len(repo.list(OrderBy("id", "asc")))

    def filter(self, reps: int) -> int:
        rows = 0
        for _ in range(reps):
            with self.session() as session:
                repo: Any = AAHeroSync(session=session, auto_commit=True)
                rows += len(repo.list(*aa_filters()))
        return rows


# --- raw Redis: JSON documents of its own, an index on age --------------------------------------


class RawRedisKeys:
    """Documents ``<base>:<id>`` (ids from an INCR counter), indexed by ``<base>:idx``."""

    def __init__(self, base: str) -> None:
        self.base, self.seq, self.index = base, f"{base}-seq", f"{base}:idx"
        self.search: tuple[Any, ...] = (
            "FT.SEARCH",
            self.index,
            f"@age:[{LO} {HI}]",
            "SORTBY",
            "age",
            "ASC",
        )
        self.search += ("LIMIT", 0, LIMIT, "DIALECT", 2)

    def create_index(self) -> tuple[Any, ...]:
        schema = ("$.age", "AS", "age", "NUMERIC", "SORTABLE")
        return (
            "FT.CREATE",
            self.index,
            "ON",
            "JSON",
            "PREFIX",
            1,
            f"{self.base}:",
            "SCHEMA",
            *schema,
        )

    def key(self, id_: int) -> str:
        return f"{self.base}:{id_}"


def found(reply: Any) -> list[Row]:
    """The documents of an FT.SEARCH reply, RESP2 or RESP3."""
    if isinstance(reply, dict):
        return [json.loads(r["extra_attributes"]["$"]) for r in reply["results"]]
    fields = reply[2::2]
    return [json.loads(dict(zip(f[::2], f[1::2], strict=True))["$"]) for f in fields]


def mget_rows(replies: list[Any]) -> list[Row]:
    return [json.loads(doc)[0] for doc in replies if doc is not None]


class RawRedisSync(RawRedisKeys):
    def __init__(self, client: Any, base: str) -> None:
        super().__init__(base)
        self.client = client
        client.execute_command(*self.create_index())

    def insert(self, rows: list[Row]) -> list[int]:
        ids: list[int] = []
        execute = self.client.execute_command
        for row in rows:
            id_ = execute("INCR", self.seq)
            execute("JSON.SET", self.key(id_), "$", json.dumps({"id": id_, **row}))
            ids.append(id_)
        return ids

    def get(self, ids: list[int]) -> None:
        for id_ in ids:
            json.loads(self.client.execute_command("JSON.GET", self.key(id_)))

    def bulk(self, rows: list[Row]) -> None:
        last = self.client.execute_command("INCRBY", self.seq, len(rows))
        pipe = self.client.pipeline(transaction=True)
        for id_, row in enumerate(rows, last - len(rows) + 1):
            pipe.execute_command("JSON.SET", self.key(id_), "$", json.dumps({"id": id_, **row}))
        pipe.execute()

    def list_all(self) -> int:
        last = int(self.client.get(self.seq) or 0)
        rows: list[Row] = []
        for start in range(1, last + 1, MGET_CHUNK):
            keys = [self.key(i) for i in range(start, min(start + MGET_CHUNK, last + 1))]
            rows += mget_rows(self.client.execute_command("JSON.MGET", *keys, "$"))
        return len(rows)

    def filter(self, reps: int) -> int:
        return sum(len(found(self.client.execute_command(*self.search))) for _ in range(reps))


class RawRedisAsync(RawRedisKeys):
    def __init__(self, client: Any, base: str) -> None:
        super().__init__(base)
        self.client = client

    async def start(self) -> RawRedisAsync:
        await self.client.execute_command(*self.create_index())
        return self

    async def insert(self, rows: list[Row]) -> list[int]:
        ids: list[int] = []
        execute = self.client.execute_command
        for row in rows:
            id_ = await execute("INCR", self.seq)
            await execute("JSON.SET", self.key(id_), "$", json.dumps({"id": id_, **row}))
            ids.append(id_)
        return ids

    async def get(self, ids: list[int]) -> None:
        for id_ in ids:
            json.loads(await self.client.execute_command("JSON.GET", self.key(id_)))

    async def bulk(self, rows: list[Row]) -> None:
        last = await self.client.execute_command("INCRBY", self.seq, len(rows))
        pipe = self.client.pipeline(transaction=True)
        for id_, row in enumerate(rows, last - len(rows) + 1):
            pipe.execute_command("JSON.SET", self.key(id_), "$", json.dumps({"id": id_, **row}))
        await pipe.execute()

    async def list_all(self) -> int:
        last = int(await self.client.get(self.seq) or 0)
        rows: list[Row] = []
        for start in range(1, last + 1, MGET_CHUNK):
            keys = [self.key(i) for i in range(start, min(start + MGET_CHUNK, last + 1))]
            rows += mget_rows(await self.client.execute_command("JSON.MGET", *keys, "$"))
        return len(rows)

    async def filter(self, reps: int) -> int:
        execute = self.client.execute_command
        return sum([len(found(await execute(*self.search))) for _ in range(reps)])


# --- redis-om: a JsonModel of Hero's fields (its own ULID keys), age indexed and sortable -------


def om_model(package: Any, database: Any, prefix: str, name: str) -> Any:
    """redis-om is untyped to this file (``Any``), so the class is made by `types.new_class`."""
    meta = type(
        "Meta", (), {"global_key_prefix": prefix, "model_key_prefix": name, "database": database}
    )

    def body(namespace: dict[str, Any]) -> None:
        namespace.update(
            __module__=__name__,
            __annotations__={"name": str, "secret_name": str, "age": int, "team_id": int | None},
            age=package.Field(index=True, sortable=True),
            team_id=None,
            Meta=meta,
        )

    return types.new_class(f"OmHero_{prefix}_{name}", (package.JsonModel,), {"index": True}, body)


class OmSync:
    def __init__(self, model: Any) -> None:
        self.model = model

    def insert(self, rows: list[Row]) -> list[str]:
        return [self.model(**row).save().pk for row in rows]

    def get(self, ids: list[str]) -> None:
        for pk in ids:
            self.model.get(pk)

    def bulk(self, rows: list[Row]) -> None:
        self.model.add([self.model(**row) for row in rows])

    def list_all(self) -> int:
        return len(self.model.find().all())

    def filter(self, reps: int) -> int:
        m, rows = self.model, 0
        for _ in range(reps):
            rows += len(m.find((m.age >= LO) & (m.age <= HI)).sort_by("age").page(0, LIMIT))
        return rows


class OmAsync:
    def __init__(self, model: Any) -> None:
        self.model = model

    async def insert(self, rows: list[Row]) -> list[str]:
        return [(await self.model(**row).save()).pk for row in rows]

    async def get(self, ids: list[str]) -> None:
        for pk in ids:
            await self.model.get(pk)

    async def bulk(self, rows: list[Row]) -> None:
        await self.model.add([self.model(**row) for row in rows])

    async def list_all(self) -> int:
        return len(await self.model.find().all())

    async def filter(self, reps: int) -> int:
        m, rows = self.model, 0
        for _ in range(reps):
            query = m.find((m.age >= LO) & (m.age <= HI)).sort_by("age")
            rows += len(await query.page(0, LIMIT))
        return rows
