"""Units of work, versions, partial updates and relationships, proven on every backend.

``test_units.py`` is the async source and ``test_sync_units.py`` is generated from it. Where the
backends differ in *when* an error is raised inside a block (SQL at the call, Redis when the
block ends, as its writes are applied there), the tests hold the whole block to the error.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import SQLModel

from models import Entry, Hero, Mission, Owner, Power, Wallet
from toolkit import RelationshipNotLoadedError, StaleVersionError
from toolkit.config import Settings
from toolkit.errors import ConflictError, ConstraintError, NotFoundError, ValidationError
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.providers import RepositoryProvider
from toolkit.storage_dependencies import get_provider


@pytest.fixture
async def provider(settings: Settings) -> AsyncIterator[RepositoryProvider]:
    async with get_provider(settings=settings) as opened:
        yield opened


@pytest.fixture
def owners(provider: RepositoryProvider) -> BaseRepository[Owner]:
    return provider.get_repository(Owner)


@pytest.fixture
def wallets(provider: RepositoryProvider) -> BaseRepository[Wallet]:
    return provider.get_repository(Wallet)


@pytest.fixture
def entries(provider: RepositoryProvider) -> BaseRepository[Entry]:
    return provider.get_repository(Entry)


class WalletChanges(SQLModel):
    """A request body for a partial update: every field optional."""

    label: str | None = None
    note: str | None = None
    balance: int | None = None


async def an_owner(owners: BaseRepository[Owner], name: str = "Ada") -> Owner:
    return await owners.create(Owner(full_name=name, email=f"{name.lower()}@example.com"))


async def a_wallet(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet], balance: int = 0
) -> Wallet:
    owner = await an_owner(owners)
    return await wallets.create(Wallet(label="main", balance=balance, owner_id=owner.id or 0))


class Boom(Exception):
    pass


# --- transactions --------------------------------------------------------------------------------


async def test_a_transaction_commits_the_writes_of_two_models_together(
    provider: RepositoryProvider, owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    async with provider.transaction():
        owner = await an_owner(owners)
        wallet = await wallets.create(Wallet(label="main", owner_id=owner.id or 0))

    assert await owners.get(owner.id or 0) == owner
    assert await wallets.get(wallet.id or 0) == wallet


async def test_an_exception_in_a_transaction_leaves_none_of_its_writes(
    provider: RepositoryProvider, owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    kept = await a_wallet(owners, wallets, balance=10)

    async def block() -> None:
        async with provider.transaction():
            owner = await an_owner(owners, "Grace")
            await wallets.create(Wallet(label="second", owner_id=owner.id or 0))
            await wallets.update(kept.model_copy(update={"balance": 99}))
            await wallets.delete(kept.id or 0, version=2)
            raise Boom

    with pytest.raises(Boom):
        await block()

    assert await owners.count() == 1
    assert await wallets.list() == [kept]


async def test_get_inside_a_transaction_sees_the_blocks_own_writes(
    provider: RepositoryProvider, owners: BaseRepository[Owner]
) -> None:
    before = await an_owner(owners, "Before")
    async with provider.transaction():
        created = await an_owner(owners, "Inside")
        assert await owners.get(created.id or 0) == created
        renamed = await owners.update(before.model_copy(update={"full_name": "Renamed"}))
        assert await owners.get_one(before.id or 0) == renamed
        assert await owners.delete(created.id or 0) is True
        assert await owners.get(created.id or 0) is None

    assert await owners.list() == [renamed]


async def test_a_nested_transaction_that_fails_undoes_only_its_own_writes(
    provider: RepositoryProvider, owners: BaseRepository[Owner]
) -> None:
    async def inner() -> None:
        async with provider.transaction():
            await an_owner(owners, "Undone")
            raise Boom

    async with provider.transaction():
        kept = await an_owner(owners, "Kept")
        with pytest.raises(Boom):
            await inner()
        after = await an_owner(owners, "After")

    assert await owners.list() == [kept, after]


async def test_a_write_refused_inside_a_transaction_leaves_none_of_the_block(
    provider: RepositoryProvider, owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    existing = await an_owner(owners, "Ada")

    async def block() -> None:
        async with provider.transaction():
            owner = await an_owner(owners, "Grace")
            await wallets.create(Wallet(label="main", owner_id=owner.id or 0))
            await owners.create(Owner(full_name="Copy", email=existing.email))

    with pytest.raises(ConflictError):
        await block()

    assert await owners.list() == [existing]
    assert await wallets.count() == 0


async def test_a_constraint_refused_inside_a_transaction_leaves_none_of_the_block(
    provider: RepositoryProvider, owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    async def block() -> None:
        async with provider.transaction():
            await an_owner(owners, "Grace")
            await wallets.create(Wallet(label="orphan", owner_id=987_654))

    with pytest.raises(ConstraintError):
        await block()

    assert await owners.count() == 0
    assert await wallets.count() == 0


async def test_a_refused_write_in_a_nested_transaction_keeps_the_outer_blocks_writes(
    provider: RepositoryProvider, owners: BaseRepository[Owner]
) -> None:
    existing = await an_owner(owners, "Ada")

    async def inner() -> None:
        async with provider.transaction():
            await owners.create(Owner(full_name="Copy", email=existing.email))

    async with provider.transaction():
        kept = await an_owner(owners, "Kept")
        with pytest.raises(ConflictError):
            await inner()

    assert await owners.list() == [existing, kept]


@pytest.mark.parametrize("call", ["create_many", "update", "update_many", "patch"])
async def test_a_write_refused_and_caught_inside_a_block_still_fails_the_block(
    provider: RepositoryProvider,
    owners: BaseRepository[Owner],
    wallets: BaseRepository[Wallet],
    call: str,
) -> None:
    ada = await an_owner(owners, "Ada")
    await an_owner(owners, "Taken")
    wallet = await wallets.create(Wallet(label="w", owner_id=ada.id or 0))
    await wallets.update(wallet)  # the copy `wallet` is stale now

    async def refused() -> None:
        if call == "create_many":
            await owners.create_many([Owner(full_name="Copy", email=ada.email)])
        elif call == "update":
            await wallets.update(wallet)
        elif call == "update_many":
            await wallets.update_many([wallet.model_copy(update={"id": 999_999})])
        else:
            await owners.patch(ada.id or 0, {"email": "taken@example.com"})

    async def block() -> None:
        async with provider.transaction():
            await owners.create(Owner(full_name="Kept?", email="kept@example.com"))
            # Caught, the unit is still over (on Redis the refusal is known at the block's end).
            with contextlib.suppress(ConflictError, NotFoundError):
                await refused()

    with pytest.raises((ConflictError, NotFoundError)):
        await block()
    assert await owners.count(Owner.full_name == "Kept?") == 0


async def test_a_transfer_between_two_wallets_is_one_unit(
    provider: RepositoryProvider, owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    owner = await an_owner(owners)
    source = await wallets.create(Wallet(label="a", balance=100, owner_id=owner.id or 0))
    target = await wallets.create(Wallet(label="b", balance=0, owner_id=owner.id or 0))

    async with provider.transaction():
        paying = await wallets.get_one(source.id or 0)
        receiving = await wallets.get_one(target.id or 0)
        await wallets.update(paying.model_copy(update={"balance": paying.balance - 30}))
        await wallets.update(receiving.model_copy(update={"balance": receiving.balance + 30}))

    balances = [wallet.balance for wallet in await wallets.list()]
    assert balances == [70, 30]


# --- versions ------------------------------------------------------------------------------------


async def test_create_stores_version_one_and_every_write_moves_it_on(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    owner = await an_owner(owners)
    created = await wallets.create(Wallet(label="main", owner_id=owner.id or 0, version=7))
    assert created.version == 1

    updated = await wallets.update(created.model_copy(update={"balance": 5}))
    assert updated.version == 2
    patched = await wallets.patch(created.id or 0, {"note": "n"})
    assert patched.version == 3
    upserted = await wallets.upsert(patched.model_copy(update={"label": "renamed"}))
    assert upserted.version == 4
    assert await wallets.get(created.id or 0) == upserted


async def test_a_stale_update_raises_and_writes_nothing(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    wallet = await a_wallet(owners, wallets)
    fresh = await wallets.update(wallet.model_copy(update={"balance": 1}))

    with pytest.raises(StaleVersionError) as raised:
        await wallets.update(wallet.model_copy(update={"balance": 2}))

    assert isinstance(raised.value, ConflictError)
    assert (raised.value.expected, raised.value.current) == (1, 2)
    assert await wallets.get(wallet.id or 0) == fresh


async def test_a_stale_copy_in_a_batch_update_writes_none_of_the_batch(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    owner = await an_owner(owners)
    first, second = await wallets.create_many(
        [Wallet(label=label, owner_id=owner.id or 0) for label in ("a", "b")]
    )
    await wallets.update(second.model_copy(update={"balance": 1}))
    before = await wallets.list()

    with pytest.raises(StaleVersionError):
        await wallets.update_many(
            [
                first.model_copy(update={"balance": 10}),
                second.model_copy(update={"balance": 20}),
            ]
        )

    assert await wallets.list() == before


async def test_a_stale_upsert_raises_and_a_missing_row_is_created_at_version_one(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    wallet = await a_wallet(owners, wallets)
    await wallets.update(wallet)

    with pytest.raises(StaleVersionError):
        await wallets.upsert(wallet.model_copy(update={"balance": 3}))

    created = await wallets.upsert(
        Wallet(id=5_000, label="new", owner_id=wallet.owner_id, version=3)
    )
    assert created.version == 1


async def test_the_same_row_twice_in_a_batch_update_is_checked_against_the_first(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    wallet = await a_wallet(owners, wallets)

    with pytest.raises(StaleVersionError) as raised:
        await wallets.update_many(
            [wallet.model_copy(update={"balance": 1}), wallet.model_copy(update={"balance": 2})]
        )

    assert (raised.value.expected, raised.value.current) == (1, 2)
    assert await wallets.get(wallet.id or 0) == wallet


async def test_a_patch_with_nothing_to_write_writes_nothing(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    wallet = await a_wallet(owners, wallets)

    assert await wallets.patch(wallet.id or 0, {}) == wallet
    assert await wallets.patch(wallet.id or 0, {"version": 1}) == wallet
    with pytest.raises(StaleVersionError):
        await wallets.patch(wallet.id or 0, {"version": 2})
    with pytest.raises(NotFoundError):
        await wallets.patch(123_456, {})
    assert await wallets.get(wallet.id or 0) == wallet


async def test_versions_beyond_what_a_row_holds_are_refused_before_anything_is_written(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    wallet = await a_wallet(owners, wallets)
    last = wallet.model_copy(update={"version": 2**31 - 1})

    with pytest.raises(ValidationError, match="last"):
        await wallets.update(last)
    with pytest.raises(ValidationError, match="last"):
        await wallets.upsert(last)
    with pytest.raises(ValidationError, match="last"):
        await wallets.update_many([last])
    for version in (2**31, 2**63, -1):
        with pytest.raises(ValidationError):
            await wallets.delete(wallet.id or 0, version=version)
        with pytest.raises(ValidationError):
            await wallets.patch(wallet.id or 0, {"note": "x", "version": version})
    assert await wallets.get(wallet.id or 0) == wallet


async def test_delete_with_a_version_deletes_only_the_current_row(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    wallet = await a_wallet(owners, wallets)
    await wallets.update(wallet)

    with pytest.raises(StaleVersionError):
        await wallets.delete(wallet.id or 0, version=1)
    assert await wallets.get(wallet.id or 0) is not None

    assert await wallets.delete(wallet.id or 0, version=2) is True
    assert await wallets.delete(wallet.id or 0, version=2) is False


async def test_delete_with_a_version_is_refused_on_a_model_without_one(
    owners: BaseRepository[Owner],
) -> None:
    owner = await an_owner(owners)

    with pytest.raises(ValidationError):
        await owners.delete(owner.id or 0, version=1)
    assert await owners.get(owner.id or 0) == owner


async def test_a_stale_update_inside_a_transaction_leaves_none_of_the_block(
    provider: RepositoryProvider, owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    wallet = await a_wallet(owners, wallets)
    await wallets.update(wallet)

    async def block() -> None:
        async with provider.transaction():
            await an_owner(owners, "Grace")
            await wallets.update(wallet.model_copy(update={"balance": 50}))

    with pytest.raises(StaleVersionError):
        await block()

    assert await owners.count() == 1
    assert (await wallets.get_one(wallet.id or 0)).version == 2


# --- patch ---------------------------------------------------------------------------------------


async def test_patch_writes_only_the_given_fields(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    wallet = await a_wallet(owners, wallets, balance=10)

    patched = await wallets.patch(wallet.id or 0, {"note": "savings"})

    assert patched == wallet.model_copy(update={"note": "savings", "version": 2})
    assert await wallets.get(wallet.id or 0) == patched


async def test_patch_takes_the_explicitly_set_fields_of_a_pydantic_model(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    wallet = await a_wallet(owners, wallets, balance=10)
    await wallets.patch(wallet.id or 0, {"note": "kept"})

    patched = await wallets.patch(wallet.id or 0, WalletChanges(balance=25))

    assert (patched.balance, patched.note, patched.label) == (25, "kept", "main")


async def test_patch_of_stale_reads_keeps_both_changes(
    owners: BaseRepository[Owner],
) -> None:
    owner = await an_owner(owners)

    await owners.patch(owner.id or 0, {"full_name": "Ada Lovelace"})
    await owners.patch(owner.id or 0, {"email": "countess@example.com"})

    stored = await owners.get_one(owner.id or 0)
    assert (stored.full_name, stored.email) == ("Ada Lovelace", "countess@example.com")


async def test_patch_validates_the_merged_row_and_writes_nothing_when_it_is_invalid(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    wallet = await a_wallet(owners, wallets)

    with pytest.raises(ValidationError) as raised:
        await wallets.patch(wallet.id or 0, {"label": "", "note": "x"})

    assert raised.value.errors[0]["loc"] == ("label",)
    assert await wallets.get(wallet.id or 0) == wallet


async def test_patch_refuses_an_unknown_field_and_a_missing_row(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    wallet = await a_wallet(owners, wallets)

    with pytest.raises(ValidationError, match="colour"):
        await wallets.patch(wallet.id or 0, {"colour": "red"})
    with pytest.raises(ValidationError):
        await wallets.patch(wallet.id or 0, {"id": (wallet.id or 0) + 1})
    with pytest.raises(NotFoundError):
        await wallets.patch(123_456, {"note": "x"})
    assert await wallets.get(wallet.id or 0) == wallet


async def test_patch_with_a_stale_version_raises_and_writes_nothing(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    wallet = await a_wallet(owners, wallets)
    current = await wallets.patch(wallet.id or 0, {"balance": 1, "version": 1})

    with pytest.raises(StaleVersionError):
        await wallets.patch(wallet.id or 0, {"balance": 2, "version": 1})

    assert await wallets.get(wallet.id or 0) == current


async def test_patch_refuses_a_value_that_breaks_a_constraint(
    owners: BaseRepository[Owner],
) -> None:
    ada = await an_owner(owners, "Ada")
    grace = await an_owner(owners, "Grace")

    with pytest.raises(ConflictError):
        await owners.patch(grace.id or 0, {"email": ada.email})

    assert await owners.list() == [ada, grace]


# --- relationships -------------------------------------------------------------------------------


async def test_related_instances_given_to_a_write_are_refused_naming_the_attribute(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    with pytest.raises(ValidationError, match="wallets") as raised:
        await owners.create(
            Owner(full_name="Ada", email="a@example.com", wallets=[Wallet(label="w", owner_id=0)])
        )
    assert raised.value.errors[0]["loc"] == ("wallets",)
    owner = await an_owner(owners)
    stranger = Owner(full_name="B", email="b@example.com")
    with pytest.raises(ValidationError, match="owner"):
        await wallets.create(Wallet(label="w", owner_id=owner.id or 0, owner=stranger))
    changed = owner.model_copy(update={"wallets": [Wallet(label="w", owner_id=0)]})
    with pytest.raises(ValidationError, match="wallets"):
        await owners.update_many([changed])

    assert await owners.list() == [owner]
    assert await wallets.count() == 0


async def test_get_with_load_fills_a_one_to_many_relationship(
    provider: RepositoryProvider, owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    async with provider.transaction():
        owner = await an_owner(owners)
        made = await wallets.create_many(
            [Wallet(label=f"w{i}", owner_id=owner.id or 0) for i in range(3)]
        )
    other = await an_owner(owners, "Other")
    await wallets.create(Wallet(label="theirs", owner_id=other.id or 0))

    found = await owners.get_one(owner.id or 0, load=[Owner.wallets])

    assert sorted(found.wallets, key=lambda wallet: wallet.id or 0) == made
    assert all(wallet.owner is found for wallet in found.wallets)
    lonely = await an_owner(owners, "Lonely")
    assert (await owners.get_one(lonely.id or 0, load=[Owner.wallets])).wallets == []


async def test_list_with_load_fills_a_many_to_one_relationship(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet], entries: BaseRepository[Entry]
) -> None:
    ada = await an_owner(owners, "Ada")
    grace = await an_owner(owners, "Grace")
    await wallets.create_many(
        [Wallet(label=f"w{i}", owner_id=(ada if i % 2 else grace).id or 0) for i in range(6)]
    )

    found = await wallets.list(load=[Wallet.owner, Wallet.entries])

    assert [wallet.owner for wallet in found] == [grace, ada] * 3
    assert all(wallet.entries == [] for wallet in found)
    page = await wallets.page(Wallet.owner_id == ada.id, limit=2, load=[Wallet.owner])
    assert [wallet.owner for wallet in page.items] == [ada, ada]
    first = await wallets.first(order_by=Wallet.label, load=[Wallet.owner])
    assert first is not None
    assert first.owner == grace


async def test_a_many_to_one_relationship_with_no_row_loads_as_none(
    provider: RepositoryProvider,
) -> None:
    missions = provider.get_repository(Mission)
    mission = await missions.create(Mission(codename="Solo"))

    found = await missions.get_one(mission.id or 0, load=[Mission.leader])

    assert found.leader is None


async def test_reading_a_relationship_that_was_not_loaded_names_it_and_load(
    owners: BaseRepository[Owner],
) -> None:
    owner = await an_owner(owners)
    found = await owners.get_one(owner.id or 0)

    with pytest.raises(RelationshipNotLoadedError, match=r"load=\[Owner\.wallets\]"):
        _ = found.wallets
    with pytest.raises(RelationshipNotLoadedError, match=r"Owner\.wallets"):
        _ = owner.wallets


async def test_load_refuses_what_is_not_a_relationship_of_the_model(
    owners: BaseRepository[Owner],
) -> None:
    owner = await an_owner(owners)

    with pytest.raises(ValidationError):
        await owners.get(owner.id or 0, load=[Wallet.owner])
    with pytest.raises(ValidationError):
        await owners.list(load=[Owner.full_name])
    with pytest.raises(ValidationError):
        await owners.list(load="wallets")


async def test_load_is_checked_when_no_row_is_found(owners: BaseRepository[Owner]) -> None:
    with pytest.raises(ValidationError):
        await owners.get(123_456, load=[Owner.full_name])
    with pytest.raises(ValidationError):
        await owners.first(Owner.full_name == "nobody", load=[Wallet.owner])
    with pytest.raises(ValidationError):
        await owners.page(limit=5, load=[Owner.email])


async def test_an_instance_read_with_load_can_be_written_back(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet]
) -> None:
    wallet = await a_wallet(owners, wallets)
    found = await owners.get_one(wallet.owner_id, load=[Owner.wallets])
    found.full_name = "Renamed"

    updated = await owners.update(found)

    assert updated.full_name == "Renamed"
    assert await wallets.list() == [wallet]


async def test_deleting_an_owner_cascades_to_their_wallets_and_entries(
    owners: BaseRepository[Owner], wallets: BaseRepository[Wallet], entries: BaseRepository[Entry]
) -> None:
    wallet = await a_wallet(owners, wallets)
    other = await wallets.create(
        Wallet(label="other", owner_id=(await an_owner(owners, "Other")).id or 0)
    )
    await entries.create(Entry(amount=5, wallet_id=wallet.id or 0))

    assert await owners.delete(wallet.owner_id) is True

    assert await wallets.list() == [other]
    assert await entries.count() == 0


async def test_load_works_for_every_relationship_of_the_hero_models(
    provider: RepositoryProvider,
) -> None:
    heroes = provider.get_repository(Hero)
    powers = provider.get_repository(Power)
    hero = await heroes.create(Hero(name="Flash", secret_name="Barry"))
    made = await powers.create_many(
        [Power(name=name, hero_id=hero.id or 0) for name in ("speed", "phasing")]
    )

    found: Any = await heroes.get_one(hero.id or 0, load=[Hero.powers])

    assert found.powers == made
    assert [power.hero for power in await powers.list(load=[Power.hero])] == [hero, hero]
