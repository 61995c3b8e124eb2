"""A refused write reads the same on every backend: one message, the model's name and the fields
at fault as data, the driver's own words only in the cause.

``test_refusals.py`` is the async source and ``test_sync_refusals.py`` is generated from it, so
that each refusal is proven on all six paths (each test runs once per backend). The expected
message and fields are written out, one value for every backend: equal on each path.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date

import pytest
from sqlalchemy import Column, String
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from models import Hero, Incident, Power, Team, UserAccount
from toolkit.config import Settings
from toolkit.errors import ConflictError, ConstraintError, ToolkitError
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.providers import RepositoryProvider
from toolkit.storage_dependencies import get_provider

TAKEN_EMAIL = ("UserAccount: email is taken", "UserAccount", ("email",))
TAKEN_ID = ("Hero: a row with this id exists", "Hero", ("id",))
MISSING_TEAM = ("Hero: team_id refers to a missing row", "Hero", ("team_id",))
TAKEN_POWER = ("Power: hero_id and name are taken together", "Power", ("hero_id", "name"))
REFERENCED_TEAM = ("Team: other rows still refer to this row", "Team", ())

# What the drivers say of these refusals: none of it belongs in the toolkit's messages.
DRIVER_WORDS = (
    "UNIQUE",
    "unique constraint",
    "duplicate key",
    "FOREIGN KEY",
    "violates",
    "refused",
)


@pytest.fixture
async def provider(settings: Settings) -> AsyncIterator[RepositoryProvider]:
    async with get_provider(settings=settings) as opened:
        yield opened


@pytest.fixture
def accounts(provider: RepositoryProvider) -> BaseRepository[UserAccount]:
    return provider.get_repository(UserAccount)


@pytest.fixture
def heroes(provider: RepositoryProvider) -> BaseRepository[Hero]:
    return provider.get_repository(Hero)


@pytest.fixture
def teams(provider: RepositoryProvider) -> BaseRepository[Team]:
    return provider.get_repository(Team)


def told(error: ToolkitError) -> tuple[str, str, tuple[str, ...]]:
    """The message, model and fields of a conflict or constraint error."""
    assert isinstance(error, ConflictError | ConstraintError)
    assert not any(word in str(error) for word in DRIVER_WORDS)
    return str(error), error.model, error.fields


def account(email: str, name: str = "Ada") -> UserAccount:
    return UserAccount(email=email, display_name=name, age=36)


# --- unique values ------------------------------------------------------------------------------


async def test_a_taken_email_names_the_field_on_create(
    accounts: BaseRepository[UserAccount],
) -> None:
    await accounts.create(account("ada@example.com"))

    with pytest.raises(ConflictError) as raised:
        await accounts.create(account("ada@example.com", "Other Ada"))

    assert told(raised.value) == TAKEN_EMAIL
    assert [row.display_name for row in await accounts.list()] == ["Ada"]


async def test_a_taken_email_reads_the_same_on_update_upsert_and_patch(
    accounts: BaseRepository[UserAccount],
) -> None:
    await accounts.create(account("ada@example.com"))
    other = await accounts.create(account("grace@example.com", "Grace"))
    other.email = "ada@example.com"

    with pytest.raises(ConflictError) as updated:
        await accounts.update(other)
    with pytest.raises(ConflictError) as upserted:
        await accounts.upsert(other)
    with pytest.raises(ConflictError) as patched:
        await accounts.patch(other.id or 0, {"email": "ada@example.com"})

    assert told(updated.value) == told(upserted.value) == told(patched.value) == TAKEN_EMAIL


async def test_a_taken_email_reads_the_same_inside_a_transaction(
    provider: RepositoryProvider, accounts: BaseRepository[UserAccount]
) -> None:
    await accounts.create(account("ada@example.com"))

    async def block() -> None:
        async with provider.transaction():  # refused at the call (SQL) or at the end (Redis)
            await accounts.create(account("ada@example.com", "Other Ada"))

    with pytest.raises(ConflictError) as raised:
        await block()

    assert told(raised.value) == TAKEN_EMAIL


async def test_values_taken_together_name_every_field_of_the_constraint(
    provider: RepositoryProvider, heroes: BaseRepository[Hero]
) -> None:
    powers = provider.get_repository(Power)
    hero = await heroes.create(Hero(name="Strong", secret_name="s"))
    await powers.create(Power(name="Strength", hero_id=hero.id or 0))

    with pytest.raises(ConflictError) as raised:
        await powers.create(Power(name="Strength", hero_id=hero.id or 0, level=3))

    assert told(raised.value) == TAKEN_POWER


class Elsewhere(SQLModel, registry=registry()):
    """Models declared in a registry of their own, as applications with several databases do."""


class Member(Elsewhere, table=True):
    __tablename__ = "refusal_member"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_column=Column("e_mail", String(100), unique=True, nullable=False))


async def test_a_model_of_another_registry_is_named_by_its_fields_not_its_columns(
    provider: RepositoryProvider,
) -> None:
    members = provider.get_repository(Member)
    email = f"{uuid.uuid4().hex}@example.com"  # its table is not among those emptied per test
    await members.create(Member(email=email))

    with pytest.raises(ConflictError) as raised:
        await members.create(Member(email=email))

    assert told(raised.value) == ("Member: email is taken", "Member", ("email",))


# --- primary keys -------------------------------------------------------------------------------


async def test_a_taken_primary_key_says_a_row_has_it(heroes: BaseRepository[Hero]) -> None:
    await heroes.create(Hero(id=7, name="Original", secret_name="o"))

    with pytest.raises(ConflictError) as raised:
        await heroes.create(Hero(id=7, name="Copy", secret_name="c"))

    assert told(raised.value) == TAKEN_ID
    assert [hero.name for hero in await heroes.list()] == ["Original"]


# --- foreign keys -------------------------------------------------------------------------------


async def test_a_missing_parent_names_the_foreign_key_on_create_and_update(
    heroes: BaseRepository[Hero], teams: BaseRepository[Team]
) -> None:
    with pytest.raises(ConstraintError) as created:
        await heroes.create(Hero(name="Orphan", secret_name="o", team_id=424_242))
    team = await teams.create(Team(name="Real"))
    member = await heroes.create(Hero(name="Member", secret_name="m", team_id=team.id))
    member.team_id = 424_242
    with pytest.raises(ConstraintError) as updated:
        await heroes.update(member)

    assert told(created.value) == told(updated.value) == MISSING_TEAM


async def test_a_missing_parent_of_a_model_with_two_foreign_keys_names_the_one_given(
    provider: RepositoryProvider,
) -> None:
    # Incident refers to a power and, optionally, a mission; only the power is given here.
    incidents = provider.get_repository(Incident)

    with pytest.raises(ConstraintError) as raised:
        await incidents.create(Incident(reported_on=date(2024, 5, 1), summary="s", power_id=9))

    assert told(raised.value) == (
        "Incident: power_id refers to a missing row",
        "Incident",
        ("power_id",),
    )


async def test_deleting_a_row_others_refer_to_names_no_field(
    heroes: BaseRepository[Hero], teams: BaseRepository[Team]
) -> None:
    team = await teams.create(Team(name="Referenced"))
    await heroes.create(Hero(name="Member", secret_name="m", team_id=team.id))

    with pytest.raises(ConstraintError) as raised:
        await teams.delete(team.id or 0)

    assert told(raised.value) == REFERENCED_TEAM
    assert await teams.get(team.id or 0) == team


# --- the cause ----------------------------------------------------------------------------------


async def test_on_sql_the_drivers_words_are_the_cause(
    backend: str, accounts: BaseRepository[UserAccount]
) -> None:
    await accounts.create(account("ada@example.com"))

    with pytest.raises(ConflictError) as raised:
        await accounts.create(account("ada@example.com", "Other Ada"))

    cause = str(raised.value.__cause__)
    if backend == "postgres":
        assert 'duplicate key value violates unique constraint "useraccount_email_key"' in cause
    elif backend == "sqlite":
        assert "UNIQUE constraint failed: useraccount.email" in cause
    else:  # Redis's write script refuses before writing: there is no driver error
        assert raised.value.__cause__ is None
