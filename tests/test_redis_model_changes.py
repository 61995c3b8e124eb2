"""A model changed under documents stored in Redis, on the async and the sync path.

A field the model adds with a default is filled in, once, in the documents stored before: they
read back with it, and queries on it find them. A NULL written after the change stays NULL,
whatever process starts later. A change the documents cannot follow (a new field that is not
nullable and has no default, a new unique field with a default) is refused before anything is
written; with auto-create off, documents that need filling in are an error, and the doctor
names them. Each "process" here is a provider with clients of its own, closed at its end.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import redis
from pydantic import ValidationInfo, field_validator
from sqlalchemy import BigInteger
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, col

from toolkit import Settings, get_provider, get_sync_provider
from toolkit.doctor import diagnose
from toolkit.errors import BackendUnavailableError, ConfigurationError
from toolkit.repositories.redis._keys import redis_keys
from toolkit.storage_dependencies import dispose_engines
from toolkit.sync_storage_dependencies import dispose_engines as sync_dispose_engines

TABLE = "change_gizmo"
ModelT = TypeVar("ModelT", bound=SQLModel)


class Before(SQLModel, registry=registry()):
    pass


class Gizmo(Before, table=True):
    __tablename__ = TABLE

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    weight: int | None = None


class After(SQLModel, registry=registry()):
    """Fields added with defaults of every kind: indexed and not, a constant, a factory, a
    an integer beyond what the index holds exactly, a nullable
    field with a default, and a nullable field without one."""


class GizmoAfter(After, table=True):
    __tablename__ = TABLE

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    weight: int | None = None
    power: int = 5
    ratio: float = 0.5
    label: str = Field(default_factory=lambda: "made")
    big: int = Field(default=2**60, sa_type=BigInteger)
    rank: int | None = 1
    note: str | None = None


class Required(SQLModel, registry=registry()):
    """A field added that is not nullable and has no default."""


class GizmoRequired(Required, table=True):
    __tablename__ = TABLE

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    weight: int | None = None
    level: int


class Unique(SQLModel, registry=registry()):
    """A unique field added with a default."""


class GizmoUnique(Unique, table=True):
    __tablename__ = TABLE

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    weight: int | None = None
    code: str = Field(default="x", unique=True)


Work = Callable[[Any], Any]
"""What a process does with its repository; on the async path, a coroutine function."""


def in_process(mode: str, settings: Settings, model: type[ModelT], work: Work) -> Any:
    """Run ``work`` on a repository of ``model`` in a process of its own: a provider whose
    clients are made for it and closed at its end."""
    if mode == "sync":
        try:
            with get_sync_provider("redis", settings=settings) as provider:
                return work(provider.get_repository(model))
        finally:
            sync_dispose_engines()

    async def run() -> Any:
        try:
            async with get_provider("redis", settings=settings) as provider:
                return await work(provider.get_repository(model))
        finally:
            await dispose_engines()

    return asyncio.run(run())


def call(mode: str, name: str, *args: Any, **kwargs: Any) -> Work:
    """The work of calling repository method ``name``, on either path."""
    if mode == "sync":
        return lambda repository: getattr(repository, name)(*args, **kwargs)

    async def work(repository: Any) -> Any:
        return await getattr(repository, name)(*args, **kwargs)

    return work


@pytest.fixture(params=["async", "sync"])
def mode(request: pytest.FixtureRequest) -> str:
    chosen: str = request.param
    return chosen


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return base_settings.replace(redis_key_prefix=f"mc{uuid.uuid4().hex[:10]}")


@pytest.fixture
def server(redis_url: str) -> Iterator[redis.Redis[str]]:
    client: redis.Redis[str] = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def stored(server: redis.Redis[str], settings: Settings) -> dict[str, Any]:
    """Every document of the table as stored, by key."""
    keys = redis_keys(settings.redis_key_prefix, TABLE)
    found = {}
    for key in server.scan_iter(match=f"{keys.documents}*", count=1000):
        if not key.startswith(keys.index):
            found[key] = json.loads(server.execute_command("JSON.GET", key))
    return found


def seed(mode: str, settings: Settings) -> list[Gizmo]:
    rows = [Gizmo(name="Alpha", weight=3), Gizmo(name="Beta"), Gizmo(name="Gamma", weight=9)]
    created: list[Gizmo] = in_process(mode, settings, Gizmo, call(mode, "create_many", rows))
    return created


def test_documents_stored_before_read_and_query_with_the_added_defaults(
    mode: str, settings: Settings, server: redis.Redis[str]
) -> None:
    seed(mode, settings)
    rows: list[GizmoAfter] = in_process(mode, settings, GizmoAfter, call(mode, "list"))
    assert [(row.name, row.weight) for row in rows] == [("Alpha", 3), ("Beta", None), ("Gamma", 9)]
    for row in rows:
        assert (row.power, row.ratio, row.label, row.big, row.rank, row.note) == (
            5, 0.5, "made", 2**60, 1, None,
        )  # fmt: skip
    for document in stored(server, settings).values():
        assert document["power"] == 5
        assert document["big"] == 2**60
        assert "note" not in document  # a NULL is a missing field, as before
    count = call(mode, "count", col(GizmoAfter.power) == 5)
    assert in_process(mode, settings, GizmoAfter, count) == 3
    none = call(mode, "count", col(GizmoAfter.power).is_(None))
    assert in_process(mode, settings, GizmoAfter, none) == 0
    big = call(mode, "count", col(GizmoAfter.big) == 2**60)
    assert in_process(mode, settings, GizmoAfter, big) == 3
    made = call(mode, "list", col(GizmoAfter.label) == "made", col(GizmoAfter.weight) == 9)
    assert [row.name for row in in_process(mode, settings, GizmoAfter, made)] == ["Gamma"]
    ranked = call(mode, "list", order_by=col(GizmoAfter.rank).desc())
    assert len(in_process(mode, settings, GizmoAfter, ranked)) == 3


def test_a_null_written_after_the_change_stays_null(
    mode: str, settings: Settings, server: redis.Redis[str]
) -> None:
    seed(mode, settings)
    create = call(mode, "create", GizmoAfter(name="Delta", rank=None, ratio=1.5))
    delta: GizmoAfter = in_process(mode, settings, GizmoAfter, create)
    # A process still on the earlier model starts, and writes; then one on the later model.
    in_process(mode, settings, Gizmo, call(mode, "create", Gizmo(name="Epsilon")))
    rows: list[GizmoAfter] = in_process(mode, settings, GizmoAfter, call(mode, "list"))
    by_name = {row.name: row for row in rows}
    assert by_name["Delta"].rank is None
    assert by_name["Delta"].ratio == 1.5
    assert by_name["Alpha"].rank == 1
    # Written by the earlier model after the change, as a row that never had the field is on
    # SQL: NULL, not the default.
    assert by_name["Epsilon"].rank is None
    assert delta.id is not None
    assert in_process(mode, settings, GizmoAfter, call(mode, "get_one", delta.id)).rank is None


def test_a_change_the_documents_cannot_follow_is_refused_before_anything_is_written(
    mode: str, settings: Settings, server: redis.Redis[str]
) -> None:
    seed(mode, settings)
    keys = redis_keys(settings.redis_key_prefix, TABLE)
    before = stored(server, settings)
    target = server.execute_command("FT.INFO", keys.index)["index_name"]
    recorded = server.smembers(keys.fields)
    with pytest.raises(ConfigurationError) as raised:
        in_process(mode, settings, GizmoRequired, call(mode, "list"))
    assert str(raised.value) == (
        "GizmoRequired: the 3 documents stored in Redis cannot follow the model: documents "
        "stored before lack level, which has no default"
    )
    with pytest.raises(ConfigurationError) as raised:
        in_process(mode, settings, GizmoUnique, call(mode, "list"))
    assert str(raised.value) == (
        "GizmoUnique: the 3 documents stored in Redis cannot follow the model: documents "
        "stored before lack code, which a unique constraint or a foreign key holds: one "
        "default cannot fill them in"
    )
    assert stored(server, settings) == before
    assert server.execute_command("FT.INFO", keys.index)["index_name"] == target
    assert server.smembers(keys.fields) == recorded
    # On an empty table, the same models are no change at all.
    empty = settings.replace(redis_key_prefix=f"mc{uuid.uuid4().hex[:10]}")
    assert in_process(mode, empty, GizmoRequired, call(mode, "list")) == []
    assert in_process(mode, empty, GizmoUnique, call(mode, "list")) == []


def test_with_auto_create_off_documents_to_fill_in_are_an_error_the_doctor_names(
    mode: str, settings: Settings, server: redis.Redis[str]
) -> None:
    seed(mode, settings)
    before = stored(server, settings)
    strict = settings.replace(auto_create=False)
    with pytest.raises(BackendUnavailableError) as raised:
        in_process(mode, strict, GizmoAfter, call(mode, "list"))
    keys = redis_keys(settings.redis_key_prefix, TABLE)
    assert str(raised.value).endswith(
        f": the 3 documents of table {TABLE} lack fields the model added (power, ratio, label, "
        f"big, rank), which the toolkit fills in with their defaults and search index "
        f"{keys.index} is out of date, and STORAGE_AUTO_CREATE is off"
    )
    assert stored(server, settings) == before
    index = (
        f"index {keys.index} is out of date: it misses field power (NUMERIC); it misses field "
        "label (TAG); it misses field big (NUMERIC); it misses field rank (NUMERIC); it misses "
        "field note (TAG); documents stored before lack power, ratio, label, big, rank"
    )
    (check,) = diagnose(strict, ["redis"], [GizmoAfter])[-1:]
    assert check.line() == (
        f"FAIL redis: {index} (STORAGE_AUTO_CREATE is off) -- run the application once with "
        "STORAGE_AUTO_CREATE=true: the toolkit fills in the fields a model adds in the "
        "documents stored before, builds the index beside the old one and switches to it once "
        "complete"
    )
    (check,) = diagnose(settings, ["redis"], [GizmoAfter])[-1:]
    assert check.line() == (
        f"ok   redis: {index}; the toolkit fills them in with their defaults and rebuilds the "
        "index on first use"
    )
    in_process(mode, settings, GizmoAfter, call(mode, "list"))  # auto-create on: migrated
    (check,) = diagnose(strict, ["redis"], [GizmoAfter])[-1:]
    assert check.line() == f"ok   redis: index {keys.index} matches GizmoAfter"
    assert in_process(mode, strict, GizmoAfter, call(mode, "count", col(GizmoAfter.power) == 5))


def test_documents_stored_before_the_fields_were_recorded_keep_their_nulls(
    mode: str, settings: Settings, server: redis.Redis[str]
) -> None:
    """An earlier toolkit kept no record of the fields: the index's fields stand for it."""

    class Since(SQLModel, registry=registry()):
        pass

    class GizmoSince(Since, table=True):
        __tablename__ = TABLE

        id: int | None = Field(default=None, primary_key=True)
        name: str = Field(index=True)
        weight: int | None = 7  # given a default since; stored NULLs stay NULL

    seed(mode, settings)
    server.delete(redis_keys(settings.redis_key_prefix, TABLE).fields)
    rows = in_process(mode, settings, GizmoSince, call(mode, "list"))
    assert [row.weight for row in rows] == [3, None, 9]


def test_a_process_that_finds_the_table_being_migrated_waits_for_it(
    settings: Settings, server: redis.Redis[str]
) -> None:
    seed("sync", settings)
    keys = redis_keys(settings.redis_key_prefix, TABLE)
    server.set(keys.migrating, "another process")
    done: list[list[GizmoAfter]] = []
    waiting = threading.Thread(
        target=lambda: done.append(in_process("sync", settings, GizmoAfter, call("sync", "list")))
    )
    waiting.start()
    time.sleep(0.5)
    assert done == []
    assert all("power" not in document for document in stored(server, settings).values())
    server.delete(keys.migrating)
    waiting.join(timeout=30)
    assert [row.power for row in done[0]] == [5, 5, 5]
    assert not server.exists(keys.migrating)


def test_processes_migrating_at_once_each_see_every_document_filled_in(
    settings: Settings, server: redis.Redis[str]
) -> None:
    many = [Gizmo(name=f"g{i}") for i in range(2_000)]
    in_process("sync", settings, Gizmo, call("sync", "create_many", many))
    counts: list[int] = []

    def one(own: Settings) -> None:
        with get_sync_provider("redis", settings=own) as provider:
            counts.append(provider.get_repository(GizmoAfter).count(col(GizmoAfter.power) == 5))

    # Settings that differ give each thread clients of its own, as processes have.
    threads = [
        threading.Thread(target=one, args=(settings.replace(pool_size=2 + i),)) for i in range(4)
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        sync_dispose_engines()
    assert counts == [2_000] * 4
    assert all(document["power"] == 5 for document in stored(server, settings).values())


def migrate_in_thread(settings: Settings) -> tuple[threading.Thread, list[Any]]:
    """A process on the later model, started in a thread: its rows, or what it raised."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(in_process("sync", settings, GizmoAfter, call("sync", "list")))
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_staged_batch_in_progress_holds_the_filling_in_until_it_ends(
    settings: Settings, server: redis.Redis[str]
) -> None:
    """A batch could put back a document as it was before the fill: the fill waits it out."""
    seed("sync", settings)
    keys = redis_keys(settings.redis_key_prefix, TABLE)
    lease = int(time.time() * 1000) + 60_000  # a live batch's
    server.hset(keys.gate, "a-batch", f"pending {lease}")
    thread, outcome = migrate_in_thread(settings)
    time.sleep(0.5)
    assert outcome == []
    assert all("power" not in document for document in stored(server, settings).values())
    assert server.exists(keys.migrating)  # the lock is held on while it waits
    server.delete(keys.gate)
    thread.join(timeout=30)
    assert [row.power for row in outcome[0]] == [5, 5, 5]


def test_a_staged_batch_whose_client_stopped_is_finished_and_the_filling_in_goes_on(
    settings: Settings, server: redis.Redis[str]
) -> None:
    seed("sync", settings)
    keys = redis_keys(settings.redis_key_prefix, TABLE)
    server.hset(keys.gate, "a-batch", "pending 1")  # its lease ran out long ago
    rows = in_process("sync", settings, GizmoAfter, call("sync", "list"))
    assert [row.power for row in rows] == [5, 5, 5]
    assert not server.exists(keys.gate)


def test_a_process_whose_lock_was_taken_over_writes_nothing_more(
    settings: Settings, server: redis.Redis[str]
) -> None:
    seed("sync", settings)
    keys = redis_keys(settings.redis_key_prefix, TABLE)
    server.hset(keys.gate, "a-batch", f"pending {int(time.time() * 1000) + 60_000}")
    thread, outcome = migrate_in_thread(settings)
    time.sleep(0.5)
    server.set(keys.migrating, "another process")  # as if its lock had run out meanwhile
    server.delete(keys.gate)
    thread.join(timeout=30)
    (raised,) = outcome
    assert isinstance(raised, BackendUnavailableError)
    assert str(raised).endswith(
        f": the migration of table {TABLE} was not heard from for 30 s and let go of; the next "
        "call takes it up again"
    )
    assert all("power" not in document for document in stored(server, settings).values())
    assert server.get(keys.migrating) == "another process"


class Validated(SQLModel, registry=registry()):
    """Defaults the model's validators change, one of them from another field of the row."""


class GizmoValidated(Validated, table=True):
    __tablename__ = TABLE

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    weight: int | None = None
    label: str = "made"
    tally: int = 0

    @field_validator("label")
    @classmethod
    def shout(cls, value: str) -> str:
        return value.upper()

    @field_validator("tally")
    @classmethod
    def counted(cls, value: int, info: ValidationInfo) -> int:
        return value + (info.data.get("weight") or 0)


class Refused(SQLModel, registry=registry()):
    pass


class GizmoRefused(Refused, table=True):
    __tablename__ = TABLE

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    weight: int | None = None
    code: str = Field(default="toolong", max_length=3)


def test_defaults_are_filled_in_as_a_write_of_the_row_stores_them(
    mode: str, settings: Settings, server: redis.Redis[str]
) -> None:
    seed(mode, settings)
    written = in_process(
        mode, settings, GizmoValidated, call(mode, "create", GizmoValidated(name="W", weight=4))
    )
    assert (written.label, written.tally) == ("MADE", 4)  # what a write stores
    rows = in_process(mode, settings, GizmoValidated, call(mode, "list"))
    assert [(row.name, row.label, row.tally) for row in rows] == [
        ("Alpha", "MADE", 3), ("Beta", "MADE", 0), ("Gamma", "MADE", 9), ("W", "MADE", 4),
    ]  # fmt: skip
    made = call(mode, "count", col(GizmoValidated.label) == "MADE")
    assert in_process(mode, settings, GizmoValidated, made) == 4


def test_a_default_the_model_refuses_fills_nothing_in(
    mode: str, settings: Settings, server: redis.Redis[str]
) -> None:
    created = seed(mode, settings)
    before = stored(server, settings)
    with pytest.raises(ConfigurationError) as raised:
        in_process(mode, settings, GizmoRefused, call(mode, "list"))
    assert str(raised.value) == (
        f"GizmoRefused: the document of id {created[0].id}, stored before the model added "
        "code, cannot be filled in with the defaults: invalid GizmoRefused: code: String "
        "should have at most 3 characters"
    )
    assert stored(server, settings) == before


def test_the_doctor_names_a_change_the_documents_cannot_follow_with_the_index_missing(
    settings: Settings, server: redis.Redis[str]
) -> None:
    seed("sync", settings)
    keys = redis_keys(settings.redis_key_prefix, TABLE)
    server.execute_command("FT.DROPINDEX", keys.index)
    (check,) = diagnose(settings, ["redis"], [GizmoRequired])[-1:]
    assert check.line() == (
        f"FAIL redis: index {keys.index} is missing; documents stored before lack level, which "
        "has no default -- give a new field a default or make it nullable (a unique or "
        "foreign-key field: nullable, with no default), or rewrite those documents with the "
        "new model"
    )
    (check,) = diagnose(settings, ["redis"], [GizmoAfter])[-1:]
    assert check.line() == (
        f"ok   redis: index {keys.index} is missing; documents stored before lack power, ratio, "
        "label, big, rank; the toolkit fills them in with their defaults and builds the index "
        "on first use"
    )
