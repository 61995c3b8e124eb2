"""Queries, pages and bulk writes, proven on every backend.

The async source of ``test_sync_queries.py``. Each test runs once per backend.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import col

from models import Hero, Shipment, ShipmentStatus, Team
from toolkit.config import Settings
from toolkit.errors import (
    ConflictError,
    ConstraintError,
    NotFoundError,
    UnsupportedQueryError,
    ValidationError,
)
from toolkit.query import Page
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.providers import RepositoryProvider
from toolkit.storage_dependencies import get_provider

ORDERED_FIELDS = [
    "tracking_code",
    "pieces",
    "weight_kg",
    "insured",
    "status",
    "id",
    "shipped_at",
    "delivered_at",
    "expected_on",
    "declared_value",
    "customs_fee",
    "recipient_note",
    "attempts",
]
# Each field in one direction, alternating, so that every type is walked both ways across fields.
ORDERS: list[Any] = [
    None,
    *[
        col(getattr(Shipment, name)).desc() if index % 2 else col(getattr(Shipment, name)).asc()
        for index, name in enumerate(ORDERED_FIELDS)
    ],
    col(Shipment.status).asc(),
    col(Shipment.delivered_at).asc(),
    col(Shipment.tracking_code).desc(),
    [col(Shipment.status).desc(), col(Shipment.customs_fee).asc()],
    [Shipment.insured, col(Shipment.delivered_at).desc(), col(Shipment.attempts).asc()],
]
BASE = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def provider(settings: Settings) -> AsyncIterator[RepositoryProvider]:
    async with get_provider(settings=settings) as opened:
        yield opened


@pytest.fixture
def shipments(provider: RepositoryProvider) -> BaseRepository[Shipment]:
    return provider.get_repository(Shipment)


@pytest.fixture
def heroes(provider: RepositoryProvider) -> BaseRepository[Hero]:
    return provider.get_repository(Hero)


@pytest.fixture
def teams(provider: RepositoryProvider) -> BaseRepository[Team]:
    return provider.get_repository(Team)


def shipment(rng: random.Random, index: int) -> Shipment:
    """Few distinct values, many NULLs: ties everywhere, so the tie-breaker is exercised."""
    return Shipment(
        tracking_code=rng.choice(["a", "B", "b", "é", "a b", "%", "_x"]),
        pieces=rng.randint(1, 4),
        weight_kg=rng.choice([0.0, 0.5, 1.25, 1e6]),
        insured=rng.random() < 0.5,
        status=rng.choice(list(ShipmentStatus)),
        declared_value=Decimal(rng.choice(["0.00", "1.10", "-3.50", "99999.99"])),
        customs_fee=rng.choice([None, Decimal("0.05"), Decimal("12.00")]),
        shipped_at=BASE + timedelta(minutes=rng.randint(0, 5)),
        delivered_at=rng.choice([None, BASE, BASE + timedelta(days=1, microseconds=1)]),
        expected_on=date(2026, 1, rng.randint(1, 3)),
        recipient_note=rng.choice([None, "", "door", "Door"]),
        attempts=rng.choice([None, 0, 1]),
    )


async def walk(
    repository: BaseRepository[Shipment], order_by: Any, size: int, between: Any = None
) -> list[uuid.UUID]:
    """The ids of every page of ``size``, in order; ``between(page)`` runs after each page."""
    seen: list[uuid.UUID] = []
    page: Page[Shipment] = await repository.page(order_by=order_by, limit=size)
    while True:
        assert len(page.items) <= size
        seen.extend(item.id for item in page.items)
        if page.next_cursor is None:
            return seen
        if between is not None:
            await between(page)
        page = await repository.page(order_by=order_by, limit=size, cursor=page.next_cursor)


async def test_pages_walk_2000_rows_in_every_order_without_missing_or_repeating_one(
    shipments: BaseRepository[Shipment],
) -> None:
    rng = random.Random(20261130)
    await shipments.create_many(shipment(rng, i) for i in range(2_000))

    for order_by in ORDERS:
        expected = [row.id for row in await shipments.list(order_by=order_by)]
        assert len(expected) == 2_000
        assert await walk(shipments, order_by, 37) == expected, f"order {order_by}"


async def test_pages_stay_exact_while_rows_are_inserted_between_them(
    shipments: BaseRepository[Shipment],
) -> None:
    rng = random.Random(7)
    originals = await shipments.create_many(shipment(rng, i) for i in range(2_000))
    original_ids = {row.id for row in originals}
    for order_by in (
        col(Shipment.shipped_at).asc(),
        col(Shipment.customs_fee).desc(),
        [col(Shipment.status).asc(), col(Shipment.recipient_note).desc()],
    ):
        added: list[uuid.UUID] = []

        async def insert_two(_: Page[Shipment], added: list[uuid.UUID] = added) -> None:
            new = await shipments.create_many([shipment(rng, -1), shipment(rng, -2)])
            added.extend(row.id for row in new)

        seen = await walk(shipments, order_by, 37, insert_two)

        assert len(seen) == len(set(seen)), "a row came twice"
        assert original_ids <= set(seen), "a row that was there all along was missed"
        assert set(seen) <= original_ids | set(added)
        await shipments.delete_many(added)


async def test_a_tampered_or_foreign_cursor_is_a_validation_error(
    shipments: BaseRepository[Shipment],
) -> None:
    rng = random.Random(3)
    await shipments.create_many(shipment(rng, i) for i in range(5))
    page = await shipments.page(order_by=Shipment.pieces, limit=2)
    assert page.next_cursor is not None
    body, _, signature = page.next_cursor.partition(".")

    for cursor in (
        f"{body[:-2]}xx.{signature}",
        f"{body}.{signature[:-1]}0" if not signature.endswith("0") else f"{body}.{signature[:-1]}1",
        "not a cursor",
        "",
    ):
        with pytest.raises(ValidationError):
            await shipments.page(order_by=Shipment.pieces, limit=2, cursor=cursor)
    with pytest.raises(ValidationError, match="another model or order"):
        await shipments.page(order_by=Shipment.weight_kg, limit=2, cursor=page.next_cursor)


async def test_list_returns_25000_rows_and_count_agrees(teams: BaseRepository[Team]) -> None:
    await teams.create_many(Team(name=f"team {i:05}") for i in range(25_000))

    listed = await teams.list()

    assert len(listed) == 25_000
    assert [team.name for team in listed[:2]] == ["team 00000", "team 00001"]
    assert listed[-1].name == "team 24999"
    assert await teams.count() == 25_000
    assert await teams.count(col(Team.name).startswith("team 1")) == 10_000
    assert len(await teams.list(col(Team.name) >= "team 12000")) == 13_000


async def test_filters_limit_offset_first_count_and_exists(
    shipments: BaseRepository[Shipment],
) -> None:
    rng = random.Random(11)
    rows = await shipments.create_many(shipment(rng, i) for i in range(60))
    heavy = sorted(
        (row for row in rows if row.weight_kg >= 1.25 and row.customs_fee is not None),
        key=lambda row: (row.pieces, row.id),
    )

    found = await shipments.list(
        col(Shipment.weight_kg) >= 1.25,
        col(Shipment.customs_fee).is_not(None),
        order_by=Shipment.pieces,
        limit=5,
        offset=2,
    )

    assert [row.id for row in found] == [row.id for row in heavy[2:7]]
    first = await shipments.first(col(Shipment.weight_kg) >= 1.25, order_by=Shipment.pieces)
    assert first is not None
    assert (
        first.id
        == min(
            (row for row in rows if row.weight_kg >= 1.25), key=lambda row: (row.pieces, row.id)
        ).id
    )
    assert await shipments.count(Shipment.insured == True) == sum(row.insured for row in rows)  # noqa: E712
    assert await shipments.exists(col(Shipment.tracking_code).in_(["%", "nope"])) == any(
        row.tracking_code == "%" for row in rows
    )
    assert await shipments.first(Shipment.tracking_code == "nothing like it") is None
    with pytest.raises(ValidationError):
        await shipments.list(limit=-1)


async def test_a_construct_outside_the_subset_runs_on_sql_and_is_refused_by_redis(
    heroes: BaseRepository[Hero], backend: str
) -> None:
    await heroes.create_many([Hero(name="Ana", secret_name="s"), Hero(name="bob", secret_name="s")])

    for construct in (func.lower(Hero.name) == "ana", col(Hero.name).like("A%")):
        if backend == "redis":
            with pytest.raises(UnsupportedQueryError):
                await heroes.list(construct)
        else:
            assert [hero.name for hero in await heroes.list(construct)] == ["Ana"]


# --- bulk writes: all or nothing --------------------------------------------------------------


async def test_update_many_updates_every_row_or_none(heroes: BaseRepository[Hero]) -> None:
    stored = await heroes.create_many(
        [Hero(name=f"h{i}", secret_name="s", age=i) for i in range(3)]
    )
    for hero in stored:
        hero.age = (hero.age or 0) + 10

    updated = await heroes.update_many(stored)

    assert [hero.age for hero in updated] == [10, 11, 12]
    assert [hero.age for hero in await heroes.list()] == [10, 11, 12]

    missing = Hero(id=987_654, name="ghost", secret_name="s")
    changed = [hero.model_copy(update={"age": 99}) for hero in updated]
    with pytest.raises(NotFoundError):
        await heroes.update_many([*changed, missing])
    bad = [*changed[:2], changed[2].model_copy(update={"age": -1})]
    with pytest.raises(ValidationError, match="item 2"):
        await heroes.update_many(bad)

    assert [hero.age for hero in await heroes.list()] == [10, 11, 12]


async def test_update_many_with_a_duplicate_unique_value_writes_nothing(
    teams: BaseRepository[Team],
) -> None:
    first, second = await teams.create_many([Team(name="one"), Team(name="two")])
    first.headquarters = "moved"
    second.name = "one"

    with pytest.raises(ConflictError):
        await teams.update_many([first, second])

    assert [(team.name, team.headquarters) for team in await teams.list()] == [
        ("one", None),
        ("two", None),
    ]


async def test_create_many_with_a_bad_item_anywhere_writes_nothing(
    heroes: BaseRepository[Hero], teams: BaseRepository[Team]
) -> None:
    team = await teams.create(Team(name="real"))
    good = [Hero(name=f"ok {i}", secret_name="s", team_id=team.id) for i in range(50)]

    with pytest.raises(ValidationError, match="item 25"):
        await heroes.create_many([*good[:25], Hero(name="", secret_name="s"), *good[25:]])
    with pytest.raises(ConstraintError):
        await heroes.create_many([*good, Hero(name="orphan", secret_name="s", team_id=-5)])
    with pytest.raises(ConflictError):
        await teams.create_many([Team(name="fresh"), Team(name="real")])

    assert await heroes.count() == 0
    assert [t.name for t in await teams.list()] == ["real"]


async def test_delete_many_is_all_or_nothing_and_counts(
    heroes: BaseRepository[Hero], teams: BaseRepository[Team]
) -> None:
    kept, referenced, spare = await teams.create_many(
        [Team(name="kept"), Team(name="referenced"), Team(name="spare")]
    )
    await heroes.create(Hero(name="member", secret_name="s", team_id=referenced.id))

    with pytest.raises(ConstraintError):
        await teams.delete_many([spare.id or 0, referenced.id or 0])
    assert await teams.count() == 3

    assert await teams.delete_many([spare.id or 0, 123_456, spare.id or 0]) == 1
    assert await teams.delete_many([]) == 0
    assert [team.name for team in await teams.list()] == ["kept", "referenced"]
    del kept


async def test_upsert_inserts_then_updates_the_same_row(teams: BaseRepository[Team]) -> None:
    created = await teams.upsert(Team(id=7, name="seven"))
    changed = await teams.upsert(Team(id=7, name="seven", headquarters="new"))
    generated = await teams.upsert(Team(name="no key yet"))

    assert created.id == changed.id == 7
    assert changed.headquarters == "new"
    assert isinstance(generated.id, int)
    assert [(team.id, team.headquarters) for team in await teams.list(Team.id == 7)] == [(7, "new")]
    with pytest.raises(ConflictError):
        await teams.upsert(Team(id=8, name="seven"))
    assert await teams.count() == 2


async def test_delete_where_returns_how_many_rows_went(heroes: BaseRepository[Hero]) -> None:
    await heroes.create_many(
        [Hero(name=f"h{i}", secret_name="s", age=None if i % 3 == 0 else i) for i in range(9)]
    )

    assert await heroes.delete_where(col(Hero.age) > 4) == 3  # 5, 7 and 8
    assert await heroes.delete_where(col(Hero.age).is_(None)) == 3  # 0, 3 and 6
    assert [hero.name for hero in await heroes.list()] == ["h1", "h2", "h4"]
