"""Property tests of the portable query subset: every backend, in both modes, against an oracle.

Hypothesis makes datasets of `Gadget` rows (values from small alphabets, so that equal values
and NULLs are common, and strings full of query metacharacters) and requests of the portable
subset: condition trees, orders, limits and offsets, page walks. Each runs through the
repository of the backend under test and is compared with `tests.gadget_queries`, a plain-Python
oracle written from the rules.

One sync test function drives both modes: the sync repository directly, the async one through an
`asyncio.Runner` that lives as long as the test (so engines are made once per test, not once per
example). Every example starts from an empty table, emptied by a connection of the test's own.

``TOOLKIT_PROPERTY_EXAMPLES`` sets the examples per test and combination (100 by default, which
CI runs); ``TOOLKIT_PROPERTY_EXAMPLES=5000 pytest tests/test_query_properties.py`` searches
harder.
"""

from __future__ import annotations

import asyncio
import builtins
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from typing import Any, Protocol

import hypothesis
import pytest
import redis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, delete
from sqlmodel import SQLModel

from models import Gadget
from tests.gadget_queries import (
    OrderItem,
    Row,
    comes_before,
    datasets,
    gadget,
    gadget_values,
    matching,
    ordered,
    orderings,
    render,
    render_order,
    row_of,
    wheres,
)
from tests.services import drop_table
from toolkit.config import Settings
from toolkit.query import Page
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.redis._keys import redis_keys
from toolkit.repositories.sql._postgres import POSTGRES
from toolkit.repositories.sql._sqlite import SQLITE
from toolkit.repositories.sync_base import BaseSyncRepository
from toolkit.storage_dependencies import get_provider
from toolkit.sync_storage_dependencies import get_sync_provider

EXAMPLES = int(os.environ.get("TOOLKIT_PROPERTY_EXAMPLES", "100"))

properties = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    # A failing example is shrunk one backend call after another, which takes minutes: shrink
    # the first failure found only, and skip the "explain" phase (it reruns under a tracer).
    report_multiple_bugs=False,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    print_blob=True,
)


# A failing property shrinks its example, one backend call after another: more than the suite's
# per-test timeout allows.
slow = pytest.mark.timeout(120 + 2 * EXAMPLES)


@pytest.fixture(params=["async", "sync"])
def mode(request: pytest.FixtureRequest) -> str:
    """Which API the test drives; each test runs once per mode (and per backend)."""
    name: str = request.param
    return name


# --- one repository API, called synchronously in both modes --------------------------------------


class Gadgets(Protocol):
    """What these tests call on a repository of gadgets."""

    def create_many(self, models: Iterable[Gadget]) -> list[Gadget]: ...

    def list(
        self, *where: Any, order_by: Any = None, limit: int | None = None, offset: int = 0
    ) -> builtins.list[Gadget]: ...

    def first(self, *where: Any, order_by: Any = None) -> Gadget | None: ...

    def count(self, *where: Any) -> int: ...

    def exists(self, *where: Any) -> bool: ...

    def page(
        self, *where: Any, order_by: Any = None, limit: int = 50, cursor: str | None = None
    ) -> Page[Gadget]: ...

    def delete_where(self, *where: Any) -> int: ...


class SyncGadgets:
    def __init__(self, repository: BaseSyncRepository[Gadget]) -> None:
        self._repository = repository

    def create_many(self, models: Iterable[Gadget]) -> list[Gadget]:
        return self._repository.create_many(models)

    def list(
        self, *where: Any, order_by: Any = None, limit: int | None = None, offset: int = 0
    ) -> builtins.list[Gadget]:
        return self._repository.list(*where, order_by=order_by, limit=limit, offset=offset)

    def first(self, *where: Any, order_by: Any = None) -> Gadget | None:
        return self._repository.first(*where, order_by=order_by)

    def count(self, *where: Any) -> int:
        return self._repository.count(*where)

    def exists(self, *where: Any) -> bool:
        return self._repository.exists(*where)

    def page(
        self, *where: Any, order_by: Any = None, limit: int = 50, cursor: str | None = None
    ) -> Page[Gadget]:
        return self._repository.page(*where, order_by=order_by, limit=limit, cursor=cursor)

    def delete_where(self, *where: Any) -> int:
        return self._repository.delete_where(*where)


class AsyncGadgets:
    """The async repository, each call run to completion on the test's event loop."""

    def __init__(self, repository: BaseRepository[Gadget], runner: asyncio.Runner) -> None:
        self._repository = repository
        self._run = runner.run

    def create_many(self, models: Iterable[Gadget]) -> list[Gadget]:
        return self._run(self._repository.create_many(models))

    def list(
        self, *where: Any, order_by: Any = None, limit: int | None = None, offset: int = 0
    ) -> builtins.list[Gadget]:
        return self._run(
            self._repository.list(*where, order_by=order_by, limit=limit, offset=offset)
        )

    def first(self, *where: Any, order_by: Any = None) -> Gadget | None:
        return self._run(self._repository.first(*where, order_by=order_by))

    def count(self, *where: Any) -> int:
        return self._run(self._repository.count(*where))

    def exists(self, *where: Any) -> bool:
        return self._run(self._repository.exists(*where))

    def page(
        self, *where: Any, order_by: Any = None, limit: int = 50, cursor: str | None = None
    ) -> Page[Gadget]:
        return self._run(
            self._repository.page(*where, order_by=order_by, limit=limit, cursor=cursor)
        )

    def delete_where(self, *where: Any) -> int:
        return self._run(self._repository.delete_where(*where))


class Store:
    """One backend in one mode, handing out a repository of gadgets on an empty table.

    The table is emptied before each example by a connection of the test's own, not through
    the repository under test: SQL rows with a DELETE; on Redis the documents listed in the
    table's key set, and the key set (the test's key prefix is its own; its search index stays,
    and the prefix is dropped when the test ends).
    """

    def __init__(self, settings: Settings, backend: str, mode: str) -> None:
        self._settings = settings
        self._runner = asyncio.Runner() if mode == "async" else None
        self._engine: Engine | None = None
        self._redis: redis.Redis[str] | None = None
        if backend == "redis":
            self._redis = redis.Redis.from_url(
                settings.redis_url.get_secret_value(), decode_responses=True
            )
        else:
            dialect = POSTGRES if backend == "postgres" else SQLITE
            self._engine = create_engine(dialect.url(settings, is_async=False))

    def _empty_table(self) -> None:
        if self._engine is not None:
            with self._engine.begin() as connection:
                connection.execute(delete(SQLModel.metadata.tables["gadget"]))
        if self._redis is not None:
            keys = redis_keys(self._settings.redis_key_prefix, "gadget")
            tokens = self._redis.zrange(keys.ids, 0, -1)
            self._redis.delete(keys.ids, *(keys.document(token) for token in tokens))

    @contextmanager
    def empty(self) -> Iterator[Gadgets]:
        self._empty_table()
        if self._runner is None:
            with get_sync_provider(settings=self._settings) as sync_provider:
                yield SyncGadgets(sync_provider.get_repository(Gadget))
            return
        stack = AsyncExitStack()
        provider = self._runner.run(
            stack.enter_async_context(get_provider(settings=self._settings))
        )
        try:
            yield AsyncGadgets(provider.get_repository(Gadget), self._runner)
        finally:
            self._runner.run(stack.aclose())

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
        if self._engine is not None:
            self._engine.dispose()
        if self._redis is not None:
            self._redis.close()
            drop_table(self._settings, "redis", Gadget)


@pytest.fixture
def store(settings: Settings, backend: str, mode: str) -> Iterator[Store]:
    opened = Store(settings, backend, mode)
    try:
        yield opened
    finally:
        opened.close()


# --- helpers ----------------------------------------------------------------------------------


def ids(rows: Sequence[Gadget] | Sequence[Row]) -> list[Any]:
    return [row["id"] if isinstance(row, dict) else row.id for row in rows]


def stored_rows(gadgets: Gadgets, dataset: Sequence[Row]) -> list[Row]:
    """Write ``dataset`` with create_many; the oracle's rows (the given values, the new keys).

    Also checks that the rows come back from ``list()`` exactly as given, in key order.
    """
    created = gadgets.create_many([gadget(values) for values in dataset])
    assert len(created) == len(dataset)
    rows = [{**values, "id": made.id} for values, made in zip(dataset, created, strict=True)]
    assert all(isinstance(row["id"], int) for row in rows)
    assert len({row["id"] for row in rows}) == len(rows)
    by_key = sorted(rows, key=lambda row: row["id"])
    assert [row_of(found) for found in gadgets.list()] == by_key
    return rows


def bucket(n: int) -> str:
    return "0" if n == 0 else "1" if n == 1 else "2-9" if n < 10 else "10+"


def chunks(keys: list[Any], size: int) -> list[list[Any]]:
    return [keys[start : start + size] for start in range(0, len(keys), size)] or [[]]


# --- the properties -----------------------------------------------------------------------------

# Mostly no offset and no limit; else small ones, sometimes beyond the rows.
offsets = st.sampled_from(["none", "none", "small", "any"]).flatmap(
    lambda kind: st.just(0) if kind == "none" else st.integers(0, 5 if kind == "small" else 45)
)
limits = st.sampled_from(["none", "none", "small", "any"]).flatmap(
    lambda kind: st.none() if kind == "none" else st.integers(0, 5 if kind == "small" else 45)
)


@properties
@slow
@given(dataset=datasets, data=st.data())
def test_list_first_count_exists_and_delete_where_agree_with_the_oracle(
    store: Store, dataset: list[Row], data: st.DataObject
) -> None:
    where = data.draw(wheres(dataset), label="where")
    ordering = data.draw(orderings(), label="ordering")
    limit = data.draw(limits, label="limit")
    offset = data.draw(offsets, label="offset")
    with store.empty() as gadgets:
        rows = stored_rows(gadgets, dataset)
        clauses = [render(condition) for condition in where]
        order_by = render_order(ordering)
        hits = ordered(matching(rows, where), ordering)
        window = hits[offset:] if limit is None else hits[offset : offset + limit]
        hypothesis.event("rows", bucket(len(rows)))
        hypothesis.event(
            "matching", "none" if not hits else "all" if len(hits) == len(rows) else "some"
        )
        hypothesis.event("window", bucket(len(window)))

        listed = gadgets.list(*clauses, order_by=order_by, limit=limit, offset=offset)
        assert ids(listed) == ids(window)
        assert [row_of(found) for found in listed] == window
        assert ids(gadgets.list(*clauses, order_by=order_by)) == ids(hits)
        first = gadgets.first(*clauses, order_by=order_by)
        assert (None if first is None else first.id) == (hits[0]["id"] if hits else None)
        assert gadgets.count(*clauses) == len(hits)
        assert gadgets.exists(*clauses) is bool(hits)

        assert gadgets.delete_where(*clauses) == len(hits)
        gone = set(ids(hits))
        assert ids(gadgets.list()) == sorted(row["id"] for row in rows if row["id"] not in gone)


@properties
@slow
@given(dataset=datasets, data=st.data())
def test_a_page_walk_returns_the_oracle_rows_in_full_pages_also_while_rows_are_inserted(
    store: Store, dataset: list[Row], data: st.DataObject
) -> None:
    """A walk from the first page to the one without a next cursor returns the matching rows in
    the oracle's order, in full pages. In half the examples rows are inserted between pages:
    then every matching row there from the start comes once, in order, and so does every
    matching row inserted ahead of the page just read; none inserted behind it comes."""
    where = data.draw(wheres(dataset), label="where")
    ordering = data.draw(orderings(), label="ordering")
    size = data.draw(st.integers(1, 15), label="page size")
    inserts: list[list[Row]] = []
    if data.draw(st.booleans(), label="insert between pages"):
        # Copies of stored rows (so that they tie with them) or values of their own.
        new_values = (
            st.one_of(st.sampled_from(dataset), gadget_values()) if dataset else gadget_values()
        )
        inserts = data.draw(st.lists(st.lists(new_values, max_size=3), max_size=12), label="rows")
    with store.empty() as gadgets:
        rows = stored_rows(gadgets, dataset)
        clauses = [render(condition) for condition in where]
        order_by = render_order(ordering)
        keys: list[OrderItem] = list(ordering.items)
        ahead: list[Row] = []  # inserted matching rows after the walk's position
        behind: list[Row] = []  # inserted matching rows before it
        pages: list[list[Row]] = []
        page = gadgets.page(*clauses, order_by=order_by, limit=size)
        batches = iter(inserts)
        while True:
            pages.append([row_of(found) for found in page.items])
            if page.next_cursor is None:
                break
            assert len(pages) <= len(rows) + sum(map(len, inserts)), "the walk does not end"
            batch = next(batches, [])
            if batch:
                made = gadgets.create_many([gadget(values) for values in batch])
                new = [{**values, "id": m.id} for values, m in zip(batch, made, strict=True)]
                for row in matching(new, where):
                    (ahead if comes_before(pages[-1][-1], row, keys) else behind).append(row)
            page = gadgets.page(*clauses, order_by=order_by, limit=size, cursor=page.next_cursor)

        walked = [row for rows_of_page in pages for row in rows_of_page]
        returned = ids(walked)
        assert len(returned) == len(set(returned)), "a row came twice"
        assert not set(ids(behind)) & set(returned), "a row inserted behind the walk came"
        assert walked == ordered(matching(rows, where) + ahead, keys)
        assert [len(rows_of_page) for rows_of_page in pages] == [
            len(chunk) for chunk in chunks(returned, size)
        ], "pages are full but the last"
