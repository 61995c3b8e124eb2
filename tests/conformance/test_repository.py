"""The repository contract, proven on every backend.

This file is the async source; ``test_sync_repository.py`` is generated from it, so that the same
tests run on the sync path. Each test runs once per backend (the ``backend`` fixture).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import inspect as sa_inspect

from models import ActionExecution, ActionStatus, Hero, Team
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


async def count(repository: BaseRepository[Hero] | BaseRepository[Team]) -> int:
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
