"""The repository contract, proven on every backend.

``test_repository.py`` is the async source and ``test_sync_repository.py`` is generated from it,
so that the same tests run on the sync path. Each test runs once per backend (the ``backend``
fixture).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import inspect as sa_inspect

from models import (
    AccountBase,
    ActionExecution,
    ActionStatus,
    Hero,
    Incident,
    Mission,
    Power,
    Shipment,
    ShipmentStatus,
    Sidekick,
    Team,
    UserAccount,
)
from tests.conftest import SECRET, location, url_field
from tests.services import drop_table
from toolkit.config import Settings
from toolkit.errors import (
    BackendUnavailableError,
    ConfigurationError,
    ConflictError,
    ConstraintError,
    NotFoundError,
    ValidationError,
)
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.providers import RepositoryProvider
from toolkit.storage_dependencies import get_provider


@pytest.fixture
async def provider(settings: Settings) -> AsyncIterator[RepositoryProvider]:
    async with get_provider(settings=settings) as opened:
        yield opened


@pytest.fixture
def heroes(provider: RepositoryProvider) -> BaseRepository[Hero]:
    return provider.get_repository(Hero)


@pytest.fixture
def teams(provider: RepositoryProvider) -> BaseRepository[Team]:
    return provider.get_repository(Team)


@pytest.fixture
def actions(provider: RepositoryProvider) -> BaseRepository[ActionExecution]:
    return provider.get_repository(ActionExecution)


@pytest.fixture
def shipments(provider: RepositoryProvider) -> BaseRepository[Shipment]:
    return provider.get_repository(Shipment)


@pytest.fixture
def accounts(provider: RepositoryProvider) -> BaseRepository[UserAccount]:
    return provider.get_repository(UserAccount)


@pytest.fixture
def powers(provider: RepositoryProvider) -> BaseRepository[Power]:
    return provider.get_repository(Power)


@pytest.fixture
def missions(provider: RepositoryProvider) -> BaseRepository[Mission]:
    return provider.get_repository(Mission)


@pytest.fixture
def incidents(provider: RepositoryProvider) -> BaseRepository[Incident]:
    return provider.get_repository(Incident)


@pytest.fixture
def sidekicks(provider: RepositoryProvider) -> BaseRepository[Sidekick]:
    return provider.get_repository(Sidekick)


async def count(repository: BaseRepository[Any]) -> int:
    return len(await repository.list())


# --- create and read ---------------------------------------------------------------------------


async def test_create_returns_the_stored_row_with_a_generated_integer_id(
    heroes: BaseRepository[Hero],
) -> None:
    created = await heroes.create(Hero(name="Deadpond", secret_name="Dive Wilson"))

    assert isinstance(created.id, int)
    assert created.age is None
    assert created.team_id is None
    assert await heroes.get(created.id) == created


async def test_create_keeps_an_explicit_integer_id(heroes: BaseRepository[Hero]) -> None:
    created = await heroes.create(Hero(id=41, name="Rusty-Man", secret_name="Tommy Sharp"))

    assert created.id == 41
    assert (await heroes.get_one(41)).name == "Rusty-Man"


async def test_create_generates_a_uuid_primary_key_from_the_default_factory(
    actions: BaseRepository[ActionExecution],
) -> None:
    created = await actions.create(ActionExecution(action_name="sync-users"))

    assert isinstance(created.id, uuid.UUID)
    assert created.status is ActionStatus.PENDING
    assert created.parameters == {}
    assert created.attempts == 0
    assert await actions.get(created.id) == created


async def test_a_uuid_primary_key_can_be_given_as_a_string(
    actions: BaseRepository[ActionExecution],
) -> None:
    created = await actions.create(ActionExecution(action_name="by-string"))

    assert await actions.get(str(created.id)) == created
    assert await actions.delete(str(created.id)) is True


async def test_get_of_a_missing_id_returns_none(heroes: BaseRepository[Hero]) -> None:
    assert await heroes.get(123_456) is None


async def test_get_one_of_a_missing_id_raises_not_found(heroes: BaseRepository[Hero]) -> None:
    with pytest.raises(NotFoundError) as caught:
        await heroes.get_one(123_456)

    assert caught.value.model == "Hero"
    assert caught.value.id == 123_456


async def test_get_with_an_id_of_the_wrong_type_raises_validation_error(
    heroes: BaseRepository[Hero], actions: BaseRepository[ActionExecution]
) -> None:
    with pytest.raises(ValidationError):
        await heroes.get("not-a-number")
    with pytest.raises(ValidationError):
        await actions.get("not-a-uuid")


async def test_values_of_every_field_type_round_trip(
    actions: BaseRepository[ActionExecution],
) -> None:
    started = datetime(2026, 5, 17, 9, 30, 15, 123456, tzinfo=UTC)
    action = ActionExecution(
        action_name="import",
        status=ActionStatus.RUNNING,
        parameters={"source": "s3://bucket", "limit": 10, "tags": ["a", "b"], "deep": {"x": None}},
        result=None,
        attempts=3,
        started_at=started,
        finished_at=None,
    )

    created = await actions.create(action)
    fetched = await actions.get_one(created.id)

    assert fetched == created
    assert fetched.status is ActionStatus.RUNNING
    assert fetched.parameters == {
        "source": "s3://bucket",
        "limit": 10,
        "tags": ["a", "b"],
        "deep": {"x": None},
    }
    assert fetched.result is None
    assert fetched.finished_at is None
    assert fetched.started_at == started


async def test_aware_datetimes_come_back_as_the_same_instant_in_utc(
    actions: BaseRepository[ActionExecution],
) -> None:
    tokyo = timezone(timedelta(hours=9))
    local = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=tokyo)

    created = await actions.create(ActionExecution(action_name="tz", started_at=local))
    fetched = await actions.get_one(created.id)

    for value in (created.started_at, fetched.started_at):
        assert value == local
        assert value.utcoffset() == timedelta(0)
        assert value.tzinfo is UTC
        assert value.hour == 18  # 03:04 in Tokyo is 18:04 the day before in UTC
        assert value.microsecond == 678901


async def test_a_naive_datetime_is_a_validation_error_and_writes_nothing(
    actions: BaseRepository[ActionExecution],
) -> None:
    with pytest.raises(ValidationError, match="naive"):
        await actions.create(
            ActionExecution(action_name="naive", started_at=datetime(2026, 1, 1, 12, 0))
        )

    assert await actions.list() == []


async def test_list_returns_every_row_in_primary_key_order(heroes: BaseRepository[Hero]) -> None:
    for id in (3, 1, 2):
        await heroes.create(Hero(id=id, name=f"hero {id}", secret_name="x"))

    assert [hero.id for hero in await heroes.list()] == [1, 2, 3]


async def test_list_orders_uuid_keys_as_uuids(actions: BaseRepository[ActionExecution]) -> None:
    ids = [uuid.uuid4() for _ in range(12)]
    for id in ids:
        await actions.create(ActionExecution(id=id, action_name="order"))

    assert [action.id for action in await actions.list()] == sorted(ids)


async def test_list_of_an_empty_table_is_empty(teams: BaseRepository[Team]) -> None:
    assert await teams.list() == []


async def test_returned_instances_are_detached_and_complete_after_the_provider_closes(
    settings: Settings,
) -> None:
    async with get_provider(settings=settings) as provider:
        teams = provider.get_repository(Team)
        created = await teams.create(Team(name="Avengers", headquarters="Tower"))
        listed = await teams.list()

    for team in (created, listed[0]):
        assert team.model_dump() == {"id": created.id, "name": "Avengers", "headquarters": "Tower"}
        assert sa_inspect(team).detached
        assert team.model_dump_json() == (
            f'{{"id":{created.id},"name":"Avengers","headquarters":"Tower"}}'
        )


# --- update and delete -------------------------------------------------------------------------


async def test_update_overwrites_the_row_and_returns_it(heroes: BaseRepository[Hero]) -> None:
    hero = await heroes.create(Hero(name="Spider-Boy", secret_name="Pedro Parqueador"))
    hero.age = 17
    hero.name = "Spider-Youngster"

    updated = await heroes.update(hero)

    assert updated.age == 17
    assert updated.name == "Spider-Youngster"
    assert await heroes.get_one(hero.id or 0) == updated


async def test_update_of_a_missing_row_raises_not_found_and_creates_nothing(
    heroes: BaseRepository[Hero],
) -> None:
    with pytest.raises(NotFoundError):
        await heroes.update(Hero(id=9_999, name="Ghost", secret_name="nobody"))

    assert await count(heroes) == 0


async def test_update_validates_and_leaves_the_row_unchanged_when_invalid(
    heroes: BaseRepository[Hero],
) -> None:
    hero = await heroes.create(Hero(name="Steady", secret_name="s", age=40))
    hero.age = -5

    with pytest.raises(ValidationError):
        await heroes.update(hero)

    assert (await heroes.get_one(hero.id or 0)).age == 40


async def test_delete_reports_whether_a_row_was_deleted(heroes: BaseRepository[Hero]) -> None:
    hero = await heroes.create(Hero(name="Brief", secret_name="b"))

    assert await heroes.delete(hero.id or 0) is True
    assert await heroes.delete(hero.id or 0) is False
    assert await heroes.get(hero.id or 0) is None


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "location"),
    [
        ({"name": "", "secret_name": "x"}, "name"),
        ({"name": "x" * 101, "secret_name": "x"}, "name"),
        ({"name": "ok", "secret_name": "x", "age": -1}, "age"),
        ({"name": "ok", "secret_name": "x", "age": "old"}, "age"),
        ({"name": 42, "secret_name": "x"}, "name"),
        ({"name": "ok"}, "secret_name"),
    ],
)
async def test_invalid_fields_raise_validation_error_and_write_nothing(
    heroes: BaseRepository[Hero], fields: dict[str, Any], location: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        await heroes.create(Hero(**fields))

    assert location in {error["loc"][0] for error in caught.value.errors}
    assert await count(heroes) == 0


async def test_an_instance_of_another_model_is_a_validation_error(
    heroes: BaseRepository[Hero],
) -> None:
    with pytest.raises(ValidationError, match="expected a Hero"):
        # The type checker refuses this call; the run-time check is what is under test.
        await heroes.create(Team(name="not a hero"))  # type: ignore[arg-type]

    assert await count(heroes) == 0


async def test_a_duplicate_unique_value_raises_conflict_and_writes_nothing(
    teams: BaseRepository[Team],
) -> None:
    await teams.create(Team(name="Preventers"))

    with pytest.raises(ConflictError):
        await teams.create(Team(name="Preventers", headquarters="elsewhere"))

    assert [team.headquarters for team in await teams.list()] == [None]


async def test_an_update_to_a_duplicate_unique_value_raises_conflict(
    teams: BaseRepository[Team],
) -> None:
    await teams.create(Team(name="First"))
    second = await teams.create(Team(name="Second"))
    second.name = "First"

    with pytest.raises(ConflictError):
        await teams.update(second)

    assert (await teams.get_one(second.id or 0)).name == "Second"


async def test_a_duplicate_primary_key_raises_conflict_and_writes_nothing(
    heroes: BaseRepository[Hero],
) -> None:
    await heroes.create(Hero(id=7, name="Original", secret_name="o"))

    with pytest.raises(ConflictError):
        await heroes.create(Hero(id=7, name="Copy", secret_name="c"))

    assert [hero.name for hero in await heroes.list()] == ["Original"]


async def test_a_foreign_key_to_a_missing_row_raises_constraint_error_and_writes_nothing(
    heroes: BaseRepository[Hero],
) -> None:
    with pytest.raises(ConstraintError):
        await heroes.create(Hero(name="Orphan", secret_name="o", team_id=424_242))

    assert await count(heroes) == 0


async def test_deleting_a_referenced_row_raises_constraint_error_and_keeps_it(
    heroes: BaseRepository[Hero], teams: BaseRepository[Team]
) -> None:
    team = await teams.create(Team(name="Referenced"))
    await heroes.create(Hero(name="Member", secret_name="m", team_id=team.id))

    with pytest.raises(ConstraintError):
        await teams.delete(team.id or 0)

    assert await teams.get(team.id or 0) == team


async def test_a_failed_write_leaves_the_repository_usable(heroes: BaseRepository[Hero]) -> None:
    await heroes.create(Hero(id=1, name="One", secret_name="1"))
    with pytest.raises(ConflictError):
        await heroes.create(Hero(id=1, name="Again", secret_name="1"))

    created = await heroes.create(Hero(id=2, name="Two", secret_name="2"))

    assert [hero.id for hero in await heroes.list()] == [1, created.id]


# --- create_many ---------------------------------------------------------------------------------


async def test_create_many_returns_the_stored_rows_in_order(heroes: BaseRepository[Hero]) -> None:
    created = await heroes.create_many(
        Hero(name=f"hero {i}", secret_name="s", age=i) for i in range(5)
    )

    assert [hero.name for hero in created] == [f"hero {i}" for i in range(5)]
    assert all(isinstance(hero.id, int) for hero in created)
    assert await heroes.list() == created


async def test_create_many_mixes_given_and_generated_keys(heroes: BaseRepository[Hero]) -> None:
    created = await heroes.create_many(
        [
            Hero(id=100, name="given", secret_name="s"),
            Hero(name="generated", secret_name="s"),
            Hero(id=200, name="given too", secret_name="s"),
        ]
    )

    assert [hero.name for hero in created] == ["given", "generated", "given too"]
    assert created[0].id == 100
    assert created[2].id == 200
    assert created[1].id not in (None, 100, 200)


async def test_create_many_of_nothing_returns_an_empty_list(heroes: BaseRepository[Hero]) -> None:
    assert await heroes.create_many([]) == []


async def test_create_many_writes_a_large_batch(actions: BaseRepository[ActionExecution]) -> None:
    batch = [ActionExecution(action_name=f"a{i}", parameters={"i": i}) for i in range(2_500)]

    created = await actions.create_many(batch)

    assert [action.id for action in created] == [action.id for action in batch]
    assert len(await actions.list()) == 2_500


async def test_create_many_with_an_invalid_item_writes_nothing_and_names_it(
    heroes: BaseRepository[Hero],
) -> None:
    batch = [Hero(name="fine", secret_name="s"), Hero(name="", secret_name="s")]

    with pytest.raises(ValidationError, match="item 1"):
        await heroes.create_many(batch)

    assert await count(heroes) == 0


async def test_create_many_with_a_duplicate_inside_the_batch_writes_nothing(
    teams: BaseRepository[Team],
) -> None:
    batch = [Team(name="A"), Team(name="B"), Team(name="A")]

    with pytest.raises(ConflictError):
        await teams.create_many(batch)

    assert await count(teams) == 0


async def test_create_many_with_a_duplicate_of_a_stored_row_writes_nothing(
    teams: BaseRepository[Team],
) -> None:
    await teams.create(Team(name="Stored"))

    with pytest.raises(ConflictError):
        await teams.create_many([Team(name="New"), Team(name="Stored")])

    assert [team.name for team in await teams.list()] == ["Stored"]


async def test_create_many_with_a_missing_foreign_key_writes_nothing(
    heroes: BaseRepository[Hero], teams: BaseRepository[Team]
) -> None:
    team = await teams.create(Team(name="Real"))
    batch = [
        Hero(name="member", secret_name="s", team_id=team.id),
        Hero(name="orphan", secret_name="s", team_id=987_654),
    ]

    with pytest.raises(ConstraintError):
        await heroes.create_many(batch)

    assert await count(heroes) == 0
    assert (await heroes.create(Hero(name="after", secret_name="s"))).name == "after"


# --- every field type ----------------------------------------------------------------------------

TOKYO = timezone(timedelta(hours=9))
NEWFOUNDLAND = timezone(timedelta(hours=-3, minutes=-30))
SHIPPED_AT_UTC = datetime(2026, 3, 2, 3, 29, 58, 999999, tzinfo=UTC)
DELIVERED_AT_UTC = datetime(2026, 3, 3, 23, 0, 0, 1, tzinfo=UTC)
LABELS = ["fragile", "this side up", "überweight ☂"]
CUSTOMS: dict[str, Any] = {
    "hs_code": "8471.30",
    "value": 12.5,
    "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}],
    "origin": None,
    "duty_free": False,
}


def full_shipment(**changes: Any) -> Shipment:
    """A shipment with every field set, each to a value that a lossy store would change."""
    values: dict[str, Any] = {
        "tracking_code": "1Z999AA10123456784",
        "pieces": 3,
        "weight_kg": 0.1 + 0.2,  # 0.30000000000000004: every bit of the double matters
        "insured": True,
        "status": ShipmentStatus.IN_TRANSIT,
        "declared_value": Decimal("1234567890.12"),  # 12 significant digits
        "customs_fee": Decimal("0.05"),
        # 23:59:58.999999 at -03:30 is 03:29:58.999999 the next day in UTC.
        "shipped_at": datetime(2026, 3, 1, 23, 59, 58, 999999, tzinfo=NEWFOUNDLAND),
        "delivered_at": datetime(2026, 3, 4, 8, 0, 0, 1, tzinfo=TOKYO),
        "expected_on": date(2026, 3, 5),
        "recipient_note": "Leave it at the door — façade side",
        "attempts": 0,  # a falsy value that must not become None
        "labels": list(LABELS),
        "customs": dict(CUSTOMS),
    }
    values.update(changes)
    return Shipment(**values)


def assert_is_the_full_shipment(row: Shipment) -> None:
    assert isinstance(row.id, uuid.UUID)
    assert row.tracking_code == "1Z999AA10123456784"
    assert type(row.pieces) is int
    assert row.pieces == 3
    assert type(row.weight_kg) is float
    assert row.weight_kg == 0.1 + 0.2
    assert row.insured is True
    assert row.status is ShipmentStatus.IN_TRANSIT
    assert type(row.declared_value) is Decimal
    assert row.declared_value == Decimal("1234567890.12")
    assert type(row.customs_fee) is Decimal
    assert row.customs_fee == Decimal("0.05")
    assert row.shipped_at == SHIPPED_AT_UTC
    assert row.shipped_at.tzinfo is UTC
    assert (row.shipped_at.day, row.shipped_at.hour, row.shipped_at.microsecond) == (2, 3, 999999)
    assert row.delivered_at == DELIVERED_AT_UTC
    assert row.delivered_at is not None
    assert row.delivered_at.tzinfo is UTC
    assert row.delivered_at.microsecond == 1
    assert type(row.expected_on) is date
    assert row.expected_on == date(2026, 3, 5)
    assert row.recipient_note == "Leave it at the door — façade side"
    assert type(row.attempts) is int
    assert row.attempts == 0
    assert row.labels == LABELS
    assert row.customs == CUSTOMS


async def test_a_value_of_every_field_type_round_trips_exactly(
    shipments: BaseRepository[Shipment],
) -> None:
    created = await shipments.create(full_shipment())
    fetched = await shipments.get_one(created.id)
    (listed,) = await shipments.list()

    for row in (created, fetched, listed):
        assert_is_the_full_shipment(row)
        assert row == created


async def test_optional_fields_left_empty_stay_none_and_defaults_are_stored(
    shipments: BaseRepository[Shipment],
) -> None:
    created = await shipments.create(
        Shipment(
            tracking_code="minimal",
            weight_kg=0.25,
            declared_value=Decimal("0"),
            expected_on=date(1969, 12, 31),  # before the epoch
        )
    )
    fetched = await shipments.get_one(created.id)

    for row in (created, fetched):
        assert row.customs_fee is None
        assert row.delivered_at is None
        assert row.recipient_note is None
        assert row.attempts is None
        assert row.insured is False
        assert row.status is ShipmentStatus.BOOKED
        assert row.pieces == 1
        assert row.weight_kg == 0.25
        assert type(row.declared_value) is Decimal
        assert row.declared_value == 0
        assert row.expected_on == date(1969, 12, 31)
        assert row.labels == []
        assert row.customs == {}
        assert row.shipped_at.tzinfo is UTC
    assert fetched == created


@pytest.mark.parametrize("weight", [0.0, 2.0, 1e16])
async def test_a_float_with_no_fraction_comes_back_as_a_float(
    shipments: BaseRepository[Shipment], weight: float
) -> None:
    created = await shipments.create(full_shipment(weight_kg=weight))
    (batched,) = await shipments.create_many([full_shipment(weight_kg=weight)])
    created.pieces = 4
    updated = await shipments.update(created)
    fetched = await shipments.get_one(created.id)

    for row in (created, batched, updated, fetched, *(await shipments.list())):
        assert type(row.weight_kg) is float
        assert row.weight_kg == weight
    assert updated.model_dump_json() == fetched.model_dump_json()


async def test_an_update_round_trips_every_field_and_none_replaces_a_value(
    shipments: BaseRepository[Shipment],
) -> None:
    shipment = await shipments.create(full_shipment())
    shipment.status = ShipmentStatus.DELIVERED
    shipment.declared_value = Decimal("-0.01")
    shipment.customs_fee = None
    shipment.delivered_at = None
    shipment.recipient_note = None
    shipment.attempts = None
    shipment.insured = False
    shipment.weight_kg = 1e-7
    shipment.labels = []
    shipment.customs = {"nested": {"deeper": [1, 2.5, "three", True, None]}}

    updated = await shipments.update(shipment)
    fetched = await shipments.get_one(shipment.id)

    for row in (updated, fetched):
        assert row.status is ShipmentStatus.DELIVERED
        assert type(row.declared_value) is Decimal
        assert row.declared_value == Decimal("-0.01")
        assert row.customs_fee is None
        assert row.delivered_at is None
        assert row.recipient_note is None
        assert row.attempts is None
        assert row.insured is False
        assert row.weight_kg == 1e-7
        assert row.labels == []
        assert row.customs == {"nested": {"deeper": [1, 2.5, "three", True, None]}}
        assert row.shipped_at == SHIPPED_AT_UTC
    assert fetched == updated


async def test_json_fields_keep_integers_beyond_64_bits_exactly(
    shipments: BaseRepository[Shipment],
) -> None:
    # JSON numbers have no size limit; SQL's JSON columns keep them as written.
    customs = {
        "largest_signed": 2**63 - 1,
        "checksum": 2**64 - 1,  # an unsigned 64-bit hash
        "past_unsigned": 2**64,
        "below_signed": -(2**63) - 1,
    }

    created = await shipments.create(full_shipment(customs=customs))
    fetched = await shipments.get_one(created.id)

    for row in (created, fetched, *(await shipments.list())):
        assert row.customs == customs
        assert all(type(value) is int for value in row.customs.values())


@pytest.mark.parametrize(
    "value",
    ["9999999999.99", "-9999999999.99", "0.01", "0.10", "100", "31415926.53"],
)
async def test_decimals_keep_every_digit(shipments: BaseRepository[Shipment], value: str) -> None:
    created = await shipments.create(
        full_shipment(declared_value=Decimal(value), customs_fee=Decimal(value))
    )

    for row in (created, await shipments.get_one(created.id), *(await shipments.list())):
        for stored in (row.declared_value, row.customs_fee):
            assert isinstance(stored, Decimal)
            assert stored == Decimal(value)
            # Equal as decimals, not merely close: no binary floating point on the way.
            assert stored.quantize(Decimal("0.01")) == Decimal(value).quantize(Decimal("0.01"))


@pytest.mark.parametrize(
    ("value", "problem"),
    [("12345678901.23", "digits"), ("1.234", "decimal places")],
)
async def test_a_decimal_beyond_its_declared_size_is_a_validation_error(
    shipments: BaseRepository[Shipment], value: str, problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem) as caught:
        await shipments.create(full_shipment(declared_value=Decimal(value)))

    assert "declared_value" in {error["loc"][0] for error in caught.value.errors}
    assert await count(shipments) == 0


async def test_every_enum_member_comes_back_as_itself(
    shipments: BaseRepository[Shipment],
) -> None:
    created = await shipments.create_many(
        full_shipment(tracking_code=f"enum-{status.value}", status=status)
        for status in ShipmentStatus
    )

    for row, status in zip(created, ShipmentStatus, strict=True):
        assert (await shipments.get_one(row.id)).status is status
    assert {row.status for row in await shipments.list()} == set(ShipmentStatus)


async def test_a_given_uuid_key_is_kept_and_comes_back_as_a_uuid(
    shipments: BaseRepository[Shipment],
) -> None:
    key = uuid.UUID("0b7e8f0e-9a7c-4c1e-8f55-2f3d5e6a7b8c")

    created = await shipments.create(full_shipment(id=key))

    assert created.id == key
    for row in (await shipments.get_one(key), await shipments.get_one(str(key))):
        assert isinstance(row.id, uuid.UUID)  # asyncpg gives its own subclass of uuid.UUID
        assert row.id == key
        assert str(row.id) == str(key)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1969, 7, 20, 20, 17, 40, 123456, tzinfo=UTC),  # before the epoch
        datetime(2024, 2, 29, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=14))),
        datetime(2026, 10, 25, 1, 30, 0, 500000, tzinfo=timezone(timedelta(hours=-9))),
        datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
async def test_aware_datetimes_keep_the_instant_and_the_microseconds(
    shipments: BaseRepository[Shipment], moment: datetime
) -> None:
    created = await shipments.create(full_shipment(shipped_at=moment, delivered_at=moment))
    fetched = await shipments.get_one(created.id)

    for row in (created, fetched):
        for value in (row.shipped_at, row.delivered_at):
            assert value == moment
            assert value is not None
            assert value.tzinfo is UTC
            assert value.microsecond == moment.microsecond
            assert value.replace(tzinfo=None) == moment.astimezone(UTC).replace(tzinfo=None)


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1969, 12, 31), date(2000, 2, 29)])
async def test_dates_round_trip(shipments: BaseRepository[Shipment], day: date) -> None:
    created = await shipments.create(full_shipment(expected_on=day))

    fetched = await shipments.get_one(created.id)

    assert type(fetched.expected_on) is date
    assert fetched.expected_on == day


async def test_related_instances_in_a_relationship_attribute_are_refused(
    heroes: BaseRepository[Hero], powers: BaseRepository[Power]
) -> None:
    # Never silently dropped: each model's rows go through its own repository.
    hero = Hero(name="Storm", secret_name="Ororo", powers=[Power(name="", hero_id=0)])

    with pytest.raises(ValidationError, match="powers") as raised:
        await heroes.create(hero)

    assert raised.value.errors[0]["loc"] == ("powers",)
    assert await heroes.list() == []
    assert await powers.list() == []


# --- a model inheriting its fields, pydantic types and constraints ------------------------------


def account(**changes: Any) -> UserAccount:
    values: dict[str, Any] = {"email": "ada@example.com", "display_name": "Ada", "age": 36}
    values.update(changes)
    return UserAccount(**values)


async def test_a_table_model_inheriting_its_fields_round_trips(
    accounts: BaseRepository[UserAccount],
) -> None:
    body = AccountBase(email="grace@example.com", display_name="Grace", age=85, newsletter=True)

    created = await accounts.create(UserAccount.model_validate(body.model_dump()))
    fetched = await accounts.get_one(created.id or 0)

    assert isinstance(created.id, int)
    assert fetched == created
    assert fetched.model_dump() == {**body.model_dump(), "id": created.id}
    assert await accounts.list() == [created]


@pytest.mark.parametrize(
    ("changes", "location"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "ada@"}, "email"),
        ({"email": "ada@@example.com"}, "email"),
        ({"display_name": "x" * 41}, "display_name"),
        ({"display_name": ""}, "display_name"),
        ({"age": 12}, "age"),
        ({"age": 151}, "age"),
    ],
)
async def test_pydantic_types_and_field_constraints_of_a_base_class_are_enforced(
    accounts: BaseRepository[UserAccount], changes: dict[str, Any], location: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        await accounts.create(account(**changes))

    assert location in {error["loc"][0] for error in caught.value.errors}
    assert await count(accounts) == 0


async def test_an_invalid_email_in_an_update_is_refused_and_the_row_kept(
    accounts: BaseRepository[UserAccount],
) -> None:
    created = await accounts.create(account())
    created.email = "nobody-at-example.com"

    with pytest.raises(ValidationError):
        await accounts.update(created)

    assert (await accounts.get_one(created.id or 0)).email == "ada@example.com"


async def test_a_duplicate_unique_email_raises_conflict_and_writes_nothing(
    accounts: BaseRepository[UserAccount],
) -> None:
    first = await accounts.create(account())

    with pytest.raises(ConflictError):
        await accounts.create(account(display_name="Impostor", age=20))
    # The stored email is the validated one: EmailStr lower-cases the domain.
    with pytest.raises(ConflictError):
        await accounts.create(account(email="ada@EXAMPLE.COM", display_name="Shouting"))
    with pytest.raises(ConflictError):
        await accounts.create_many([account(email="new@example.com"), account()])

    assert await accounts.list() == [first]


async def test_an_update_to_a_duplicate_email_raises_conflict_and_keeps_both(
    accounts: BaseRepository[UserAccount],
) -> None:
    ada = await accounts.create(account())
    grace = await accounts.create(account(email="grace@example.com", display_name="Grace"))
    grace.email = "ada@example.com"

    with pytest.raises(ConflictError):
        await accounts.update(grace)

    assert [row.email for row in await accounts.list()] == ["ada@example.com", "grace@example.com"]
    assert (await accounts.get_one(ada.id or 0)).display_name == "Ada"


async def test_a_unique_value_is_free_again_once_changed_or_deleted(
    accounts: BaseRepository[UserAccount],
) -> None:
    ada = await accounts.create(account())
    ada.email = "ada.lovelace@example.com"
    await accounts.update(ada)

    reuser = await accounts.create(account(display_name="Second Ada"))  # the old email is free
    assert await accounts.delete(reuser.id or 0) is True
    third = await accounts.create(account(display_name="Third Ada"))  # free again

    emails = {row.email: row.display_name for row in await accounts.list()}
    assert emails == {"ada.lovelace@example.com": "Ada", "ada@example.com": "Third Ada"}
    assert await accounts.get_one(third.id or 0) == third
    # Unchanged unique values stay with their row: an update that keeps the email is fine.
    third.age = 40
    assert (await accounts.update(third)).age == 40


# --- foreign keys --------------------------------------------------------------------------------


async def test_a_child_naming_a_missing_parent_is_refused_on_create(
    powers: BaseRepository[Power], missions: BaseRepository[Mission]
) -> None:
    with pytest.raises(ConstraintError):
        await powers.create(Power(name="Orphaned", hero_id=424_242))
    with pytest.raises(ConstraintError):
        await missions.create(Mission(codename="Leaderless", leader_id=424_242))

    assert await count(powers) == 0
    assert await count(missions) == 0
    # A nullable foreign key may be left empty.
    assert (await missions.create(Mission(codename="Unled"))).leader_id is None


async def test_an_update_to_a_missing_parent_is_refused_and_keeps_the_row(
    heroes: BaseRepository[Hero], powers: BaseRepository[Power], missions: BaseRepository[Mission]
) -> None:
    hero = await heroes.create(Hero(name="Parent", secret_name="p"))
    power = await powers.create(Power(name="Strength", hero_id=hero.id or 0))
    mission = await missions.create(Mission(codename="Alpha", leader_id=hero.id))
    power.hero_id = 424_242
    mission.leader_id = 424_242

    with pytest.raises(ConstraintError):
        await powers.update(power)
    with pytest.raises(ConstraintError):
        await missions.update(mission)

    assert (await powers.get_one(power.id or 0)).hero_id == hero.id
    assert (await missions.get_one(mission.id or 0)).leader_id == hero.id
    # The row's link is intact: deleting the parent still cascades to it and nulls the mission.
    assert await heroes.delete(hero.id or 0) is True
    assert await powers.get(power.id or 0) is None
    assert (await missions.get_one(mission.id or 0)).leader_id is None


async def test_create_many_with_one_missing_parent_writes_none_of_the_children(
    heroes: BaseRepository[Hero], powers: BaseRepository[Power], missions: BaseRepository[Mission]
) -> None:
    hero = await heroes.create(Hero(name="Parent", secret_name="p"))

    with pytest.raises(ConstraintError):
        await powers.create_many(
            [
                Power(name="Real", hero_id=hero.id or 0),
                Power(name="Orphan", hero_id=987_654),
                Power(name="Real too", hero_id=hero.id or 0),
            ]
        )
    with pytest.raises(ConstraintError):
        await missions.create_many(
            [Mission(codename="Led", leader_id=hero.id), Mission(codename="Lost", leader_id=9)]
        )

    assert await count(powers) == 0
    assert await count(missions) == 0
    # Nothing half-written blocks the same rows afterwards (Mission.codename is unique).
    assert len(await missions.create_many([Mission(codename="Led", leader_id=hero.id)])) == 1


async def test_deleting_a_hero_cascades_to_their_powers_only(
    heroes: BaseRepository[Hero], powers: BaseRepository[Power]
) -> None:
    doomed = await heroes.create(Hero(name="Doomed", secret_name="d"))
    other = await heroes.create(Hero(name="Other", secret_name="o"))
    await powers.create_many([Power(name=f"doomed {i}", hero_id=doomed.id or 0) for i in range(3)])
    kept = await powers.create(Power(name="kept", hero_id=other.id or 0))

    assert await heroes.delete(doomed.id or 0) is True

    assert await powers.list() == [kept]
    assert await heroes.list() == [other]


async def test_deleting_a_hero_sets_their_missions_leader_to_none(
    heroes: BaseRepository[Hero], missions: BaseRepository[Mission]
) -> None:
    leader = await heroes.create(Hero(name="Leader", secret_name="l"))
    other = await heroes.create(Hero(name="Other", secret_name="o"))
    led = await missions.create_many(
        [
            Mission(codename="Alpha", leader_id=leader.id),
            Mission(codename="Beta", leader_id=leader.id),
        ]
    )
    untouched = await missions.create(Mission(codename="Gamma", leader_id=other.id))

    assert await heroes.delete(leader.id or 0) is True

    assert [(m.codename, m.leader_id) for m in await missions.list()] == [
        ("Alpha", None),
        ("Beta", None),
        ("Gamma", other.id),
    ]
    assert await missions.get_one(untouched.id or 0) == untouched
    # A nulled mission can get a new leader, whose deletion nulls it again.
    alpha = await missions.get_one(led[0].id or 0)
    alpha.leader_id = other.id
    await missions.update(alpha)
    assert await heroes.delete(other.id or 0) is True
    assert [m.leader_id for m in await missions.list()] == [None, None, None]


async def test_deleting_a_hero_cascades_and_sets_null_in_one_call(
    heroes: BaseRepository[Hero], powers: BaseRepository[Power], missions: BaseRepository[Mission]
) -> None:
    hero = await heroes.create(Hero(name="Both", secret_name="b"))
    await powers.create(Power(name="Speed", hero_id=hero.id or 0))
    mission = await missions.create(Mission(codename="Delta", leader_id=hero.id))

    assert await heroes.delete(hero.id or 0) is True

    assert await powers.list() == []
    assert (await missions.get_one(mission.id or 0)).leader_id is None


async def test_deleting_a_team_with_heroes_is_refused_and_deletes_nothing(
    teams: BaseRepository[Team], heroes: BaseRepository[Hero], powers: BaseRepository[Power]
) -> None:
    team = await teams.create(Team(name="Justice"))
    members = await heroes.create_many(
        [Hero(name=f"member {i}", secret_name="m", team_id=team.id) for i in range(2)]
    )
    held = await powers.create_many([Power(name="Flight", hero_id=h.id or 0) for h in members])

    with pytest.raises(ConstraintError):
        await teams.delete(team.id or 0)

    assert await teams.list() == [team]
    assert await heroes.list() == members
    assert await powers.list() == held


async def test_a_cascade_reaching_a_restrict_is_refused_and_deletes_nothing_at_all(
    heroes: BaseRepository[Hero],
    powers: BaseRepository[Power],
    missions: BaseRepository[Mission],
    incidents: BaseRepository[Incident],
) -> None:
    hero = await heroes.create(Hero(name="Reckless", secret_name="r"))
    first = await powers.create(Power(name="Fire", hero_id=hero.id or 0))
    second = await powers.create(Power(name="Ice", hero_id=hero.id or 0))
    mission = await missions.create(Mission(codename="Epsilon", leader_id=hero.id))
    incident = await incidents.create(
        Incident(reported_on=date(2026, 4, 1), summary="froze a river", power_id=second.id or 0)
    )

    # hero -> power is CASCADE, power -> incident is RESTRICT: the whole delete is refused.
    with pytest.raises(ConstraintError):
        await heroes.delete(hero.id or 0)

    assert await heroes.list() == [hero]
    assert await powers.list() == [first, second]
    assert await missions.list() == [mission]  # not set to NULL either
    assert await incidents.list() == [incident]
    # Without the incident, the same delete goes through.
    assert await incidents.delete(incident.id or 0) is True
    assert await heroes.delete(hero.id or 0) is True
    assert await powers.list() == []
    assert (await missions.get_one(mission.id or 0)).leader_id is None


async def test_deleting_a_parent_referenced_without_a_rule_is_refused(
    heroes: BaseRepository[Hero],
    powers: BaseRepository[Power],
    missions: BaseRepository[Mission],
    incidents: BaseRepository[Incident],
) -> None:
    hero = await heroes.create(Hero(name="Witness", secret_name="w"))
    power = await powers.create(Power(name="Sight", hero_id=hero.id or 0))
    mission = await missions.create(Mission(codename="Zeta"))
    incident = await incidents.create(
        Incident(
            reported_on=date(2026, 4, 2),
            summary="saw it all",
            power_id=power.id or 0,
            mission_id=mission.id,
        )
    )

    # incident.mission_id declares no ondelete rule (NO ACTION): refused like RESTRICT.
    with pytest.raises(ConstraintError):
        await missions.delete(mission.id or 0)
    with pytest.raises(ConstraintError):
        await powers.delete(power.id or 0)

    assert await missions.list() == [mission]
    assert await powers.list() == [power]
    assert await incidents.get_one(incident.id or 0) == incident


async def test_moving_children_to_another_parent_releases_the_old_one(
    teams: BaseRepository[Team],
    heroes: BaseRepository[Hero],
    powers: BaseRepository[Power],
    missions: BaseRepository[Mission],
) -> None:
    team = await teams.create(Team(name="Old team"))
    old = await heroes.create(Hero(name="Old", secret_name="o", team_id=team.id))
    new = await heroes.create(Hero(name="New", secret_name="n"))
    power = await powers.create(Power(name="Telepathy", hero_id=old.id or 0))
    mission = await missions.create(Mission(codename="Eta", leader_id=old.id))

    power.hero_id = new.id or 0
    moved_power = await powers.update(power)
    mission.leader_id = new.id
    moved_mission = await missions.update(mission)
    old.team_id = None
    await heroes.update(old)

    assert await teams.delete(team.id or 0) is True  # no hero on it any more
    assert await heroes.delete(old.id or 0) is True  # nothing of it to cascade or null
    assert await powers.get_one(power.id or 0) == moved_power
    assert await missions.get_one(mission.id or 0) == moved_mission
    # The new parent holds them now.
    assert await heroes.delete(new.id or 0) is True
    assert await powers.get(power.id or 0) is None
    assert (await missions.get_one(mission.id or 0)).leader_id is None


async def test_a_unique_constraint_over_two_columns_holds(
    heroes: BaseRepository[Hero], powers: BaseRepository[Power]
) -> None:
    first = await heroes.create(Hero(name="First", secret_name="f"))
    second = await heroes.create(Hero(name="Second", secret_name="s"))
    flight = await powers.create(Power(name="Flight", hero_id=first.id or 0))
    shared = await powers.create(Power(name="Flight", hero_id=second.id or 0))  # another hero
    speed = await powers.create(Power(name="Speed", hero_id=first.id or 0))

    with pytest.raises(ConflictError):
        await powers.create(Power(name="Flight", hero_id=first.id or 0, level=9))
    speed.name = "Flight"
    with pytest.raises(ConflictError):
        await powers.update(speed)
    shared.hero_id = first.id or 0  # moving it to the hero who has it already
    with pytest.raises(ConflictError):
        await powers.update(shared)

    assert [(p.name, p.hero_id, p.level) for p in await powers.list()] == [
        ("Flight", first.id, 1),
        ("Flight", second.id, 1),
        ("Speed", first.id, 1),
    ]
    assert await powers.get_one(flight.id or 0) == flight


async def test_a_cascade_frees_the_unique_values_of_the_rows_it_deletes(
    heroes: BaseRepository[Hero], powers: BaseRepository[Power]
) -> None:
    await heroes.create(Hero(id=500, name="Gone", secret_name="g"))
    await powers.create_many([Power(name=name, hero_id=500) for name in ("Flight", "Speed")])
    assert await heroes.delete(500) is True

    # The same key again, and the same (hero_id, name) pairs: nothing is left to conflict with.
    await heroes.create(Hero(id=500, name="Back", secret_name="b"))
    again = await powers.create_many(
        [Power(name=name, hero_id=500) for name in ("Flight", "Speed")]
    )

    assert await powers.list() == again


async def test_set_null_frees_the_unique_value_it_clears(
    heroes: BaseRepository[Hero], sidekicks: BaseRepository[Sidekick]
) -> None:
    await heroes.create(Hero(id=600, name="Mentor", secret_name="m"))
    orphaned = await sidekicks.create(Sidekick(name="Robin", mentor_id=600))
    other = await sidekicks.create(Sidekick(name="Bucky"))
    with pytest.raises(ConflictError):
        await sidekicks.create(Sidekick(name="Second Robin", mentor_id=600))

    assert await heroes.delete(600) is True
    assert (await sidekicks.get_one(orphaned.id or 0)).mentor_id is None

    # Hero 600 comes back: the value the delete set to NULL is free, as in SQL.
    await heroes.create(Hero(id=600, name="Mentor again", secret_name="m"))
    other.mentor_id = 600
    assert (await sidekicks.update(other)).mentor_id == 600
    with pytest.raises(ConflictError):  # and taken again by the update
        await sidekicks.create(Sidekick(name="Third Robin", mentor_id=600))
    assert [(s.name, s.mentor_id) for s in await sidekicks.list()] == [
        ("Robin", None),
        ("Bucky", 600),
    ]


# --- configuration and unavailable backends -----------------------------------------------------


async def test_an_unknown_backend_name_raises_configuration_error(
    settings: Settings, heroes: BaseRepository[Hero]
) -> None:
    with pytest.raises(ConfigurationError, match="postgres, redis, sqlite"):
        async with get_provider("cassandra", settings=settings):
            pass

    assert await count(heroes) == 0


async def test_a_malformed_url_raises_configuration_error_without_the_password(
    settings: Settings, backend: str, malformed_urls: list[str], heroes: BaseRepository[Hero]
) -> None:
    for url in malformed_urls:
        with pytest.raises(ConfigurationError) as caught:
            async with get_provider(settings=settings.with_url(url_field(backend), url)):
                pass
        assert SECRET not in str(caught.value)
        assert SECRET not in repr(caught.value)

    assert await count(heroes) == 0


async def test_an_unreachable_backend_raises_backend_unavailable_naming_it(
    unreachable_settings: Settings, backend: str, heroes: BaseRepository[Hero]
) -> None:
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as caught:
        async with get_provider(settings=unreachable_settings) as provider:
            await provider.get_repository(Hero).create(Hero(name="lost", secret_name="s"))

    assert time.monotonic() - started < 10
    assert location(unreachable_settings, backend) in str(caught.value)
    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is not None
    assert await count(heroes) == 0


async def test_a_backend_that_never_answers_raises_backend_unavailable_within_seconds(
    hanging: Callable[[], AbstractContextManager[Settings]],
    backend: str,
    heroes: BaseRepository[Hero],
) -> None:
    assert await count(heroes) == 0
    with hanging() as hanging_settings:
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError) as caught:
            async with get_provider(settings=hanging_settings) as provider:
                await provider.get_repository(Hero).create(Hero(name="stuck", secret_name="s"))

        assert time.monotonic() - started < 10
    assert location(hanging_settings, backend) in str(caught.value)
    assert SECRET not in str(caught.value)
    assert await count(heroes) == 0


async def test_missing_tables_are_created_on_first_use(settings: Settings, backend: str) -> None:
    drop_table(settings, backend, Team)
    # A setting no other test uses gives a fresh engine, which has not seen the table yet.
    fresh = settings.replace(pool_size=settings.pool_size + 1)

    async with get_provider(settings=fresh) as provider:
        teams = provider.get_repository(Team)
        created = await teams.create(Team(name="After the drop"))
        assert await teams.list() == [created]


async def test_without_auto_create_a_missing_table_raises_backend_unavailable(
    settings: Settings, backend: str
) -> None:
    drop_table(settings, backend, Team)
    fresh = settings.replace(pool_size=settings.pool_size + 2, auto_create=False)

    with pytest.raises(BackendUnavailableError, match="team"):
        async with get_provider(settings=fresh) as provider:
            await provider.get_repository(Team).list()
