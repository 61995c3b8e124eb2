"""What mypy infers for the public API: every ``assert_type`` here is checked by ``mypy --strict``.

This module is type-checked by the normal ``mypy`` run (``mypy.ini`` lists ``tests``) and by
``test_typing.py``. Its functions are never called: importing it only defines them, so it has no
side effects. Its counterpart ``misuse.py`` holds the code mypy must reject.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Annotated, Any, TypeVar, assert_type

from fastapi import Depends, FastAPI
from pydantic_core import ErrorDetails
from sqlmodel import SQLModel, and_, col, not_, or_

from models import ActionExecution, ActionStatus, Entry, Hero, Owner, Team, Wallet
from toolkit import (
    BackendUnavailableError,
    BaseRepository,
    BaseSyncRepository,
    ConfigurationError,
    ConflictError,
    ConstraintError,
    NotFoundError,
    OrderItem,
    Page,
    PrimaryKey,
    RelationshipNotLoadedError,
    RepositoryProvider,
    Settings,
    StaleVersionError,
    SyncRepositoryProvider,
    ToolkitError,
    ValidationError,
    Versioned,
    add_exception_handlers,
    get_provider,
    get_repository_provider,
    get_sync_provider,
    get_sync_repository_provider,
    provider_dependency,
    repository_for,
    sync_provider_dependency,
    sync_repository_for,
)
from toolkit.problems import Problem, problem_details
from toolkit.repositories.providers import SqlRepositoryProvider
from toolkit.repositories.sync_providers import SyncSqlRepositoryProvider

T = TypeVar("T", bound=SQLModel)


# --- async -------------------------------------------------------------------------------------


async def async_provider_and_repository() -> None:
    async with get_provider() as provider:
        assert_type(provider, RepositoryProvider)
        heroes = provider.get_repository(Hero)
        assert_type(heroes, BaseRepository[Hero])
        assert_type(heroes.model, type[Hero])

        assert_type(await heroes.get(1), Hero | None)
        assert_type(await heroes.get_one(1), Hero)
        created = await heroes.create(Hero(name="Deadpond", secret_name="Dive Wilson"))
        assert_type(created, Hero)
        assert_type(created.id, int | None)
        many = await heroes.create_many([Hero(name="Rusty-Man", secret_name="Tommy Sharp")])
        assert_type(many, list[Hero])
        assert_type(await heroes.create_many(hero for hero in many), list[Hero])
        assert_type(await heroes.create_many(()), list[Hero])
        assert_type(await heroes.update(created), Hero)
        assert_type(await heroes.delete(1), bool)
        assert_type(await heroes.list(), list[Hero])
        for hero in await heroes.list():
            assert_type(hero, Hero)

        # Narrowing an optional result is what makes it a Hero.
        found = await heroes.get(1)
        if found is not None:
            assert_type(found, Hero)

        teams = provider.get_repository(Team)
        assert_type(teams, BaseRepository[Team])
        assert_type(await teams.get_one("1"), Team)


async def async_uuid_keyed_model() -> None:
    async with get_provider("postgres") as provider:
        actions = provider.get_repository(ActionExecution)
        assert_type(actions, BaseRepository[ActionExecution])
        key = uuid.uuid4()
        assert_type(await actions.get(key), ActionExecution | None)
        action = await actions.get_one(key)
        assert_type(action, ActionExecution)
        assert_type(action.id, uuid.UUID)
        assert_type(action.status, ActionStatus)
        assert_type(
            await actions.create(ActionExecution(action_name="sync-users")), ActionExecution
        )
        assert_type(await actions.update(action), ActionExecution)
        assert_type(await actions.delete(key), bool)
        assert_type(await actions.delete(str(key)), bool)
        assert_type(await actions.list(), list[ActionExecution])


async def async_entry_points() -> None:
    # Every argument of get_provider, by keyword and positionally where allowed.
    opened: AbstractAsyncContextManager[RepositoryProvider] = get_provider(
        "sqlite", url="sqlite+aiosqlite:///:memory:", settings=Settings()
    )
    async with opened as provider:
        assert_type(provider, RepositoryProvider)
    async with get_provider(backend=None, url=None, settings=None) as provider:
        assert_type(provider, RepositoryProvider)

    # The FastAPI dependency is an async generator of providers.
    dependency = get_repository_provider()
    assert_type(dependency, AsyncGenerator[RepositoryProvider, None])
    async for provider in get_repository_provider():
        assert_type(provider, RepositoryProvider)
    assert_type(await anext(dependency), RepositoryProvider)


# --- FastAPI ------------------------------------------------------------------------------------

Heroes = Annotated[BaseRepository[Hero], Depends(repository_for(Hero))]
SyncTeams = Annotated[BaseSyncRepository[Team], Depends(sync_repository_for(Team))]


def fastapi_dependencies(settings: Settings) -> None:
    # A model's repository dependency takes the request's provider and gives that model's.
    assert_type(repository_for(Hero), Callable[[RepositoryProvider], BaseRepository[Hero]])
    assert_type(
        sync_repository_for(Team), Callable[[SyncRepositoryProvider], BaseSyncRepository[Team]]
    )
    # Providers opened on settings the app gives, for repository_for or for an override.
    opened = provider_dependency(settings=settings)
    assert_type(opened, Callable[[], AsyncGenerator[RepositoryProvider, None]])
    assert_type(
        provider_dependency("postgres", url="postgresql://db/app"),
        Callable[[], AsyncGenerator[RepositoryProvider, None]],
    )
    assert_type(
        sync_provider_dependency(settings=settings),
        Callable[[], Generator[SyncRepositoryProvider, None, None]],
    )
    assert_type(
        repository_for(Owner, opened), Callable[[RepositoryProvider], BaseRepository[Owner]]
    )
    assert_type(
        sync_repository_for(Owner, sync_provider_dependency()),
        Callable[[SyncRepositoryProvider], BaseSyncRepository[Owner]],
    )
    app = FastAPI()
    add_exception_handlers(app, retry_after=30)
    app.dependency_overrides[get_repository_provider] = opened


async def fastapi_endpoint(heroes: Heroes, teams: SyncTeams) -> None:
    # In an endpoint the Annotated parameter is the repository itself.
    assert_type(heroes, BaseRepository[Hero])
    assert_type(await heroes.get_one(1), Hero)
    assert_type(teams.list(), list[Team])


def problems(error: ToolkitError) -> None:
    problem = problem_details(error, retry_after=1)
    assert_type(problem, Problem)
    assert_type(problem.status, int)
    assert_type(problem.body, dict[str, Any])
    assert_type(problem.headers, dict[str, str])


def sql_provider_is_a_repository_provider(
    sql: SqlRepositoryProvider,
) -> RepositoryProvider:
    # The concrete provider meets the protocol structurally.
    return sql


async def async_queries(heroes: BaseRepository[Hero]) -> None:
    # Filters as users write them: each is a `Where`, and any mix of them is accepted.
    assert_type(await heroes.list(Hero.name == "x"), list[Hero])
    assert_type(await heroes.list(col(Hero.age) >= 30), list[Hero])
    assert_type(await heroes.list(col(Hero.id).in_([1, 2])), list[Hero])
    assert_type(await heroes.list(col(Hero.age).is_(None)), list[Hero])
    assert_type(await heroes.list(col(Hero.name).startswith("a")), list[Hero])
    assert_type(await heroes.list(and_(Hero.name == "x", col(Hero.age) >= 30)), list[Hero])
    assert_type(await heroes.list(or_(Hero.name == "x", col(Hero.age).is_(None))), list[Hero])
    assert_type(await heroes.list(not_(Hero.name == "x")), list[Hero])
    assert_type(await heroes.list(not_(col(Hero.name).startswith("a"))), list[Hero])
    assert_type(
        await heroes.list(
            Hero.name == "x",
            col(Hero.age) >= 30,
            order_by=[Hero.name, col(Hero.age).desc()],
            limit=10,
            offset=20,
        ),
        list[Hero],
    )
    assert_type(await heroes.list(order_by=Hero.name), list[Hero])
    assert_type(await heroes.list(order_by=col(Hero.age).desc()), list[Hero])
    assert_type(await heroes.list(order_by=col(Hero.name).asc(), limit=None), list[Hero])
    by_age: list[OrderItem] = [col(Hero.age).desc(), Hero.name, col(Hero.id)]
    assert_type(await heroes.list(order_by=col(Hero.age)), list[Hero])
    assert_type(await heroes.list(order_by=by_age), list[Hero])
    for hero in await heroes.list(col(Hero.age) >= 30, limit=5):
        assert_type(hero, Hero)

    assert_type(await heroes.first(), Hero | None)
    first = await heroes.first(col(Hero.age) >= 30, order_by=col(Hero.age).desc())
    assert_type(first, Hero | None)
    if first is not None:
        assert_type(first, Hero)
    assert_type(await heroes.count(), int)
    assert_type(await heroes.count(Hero.name == "x", col(Hero.age).is_(None)), int)
    assert_type(await heroes.exists(), bool)
    assert_type(await heroes.exists(or_(Hero.name == "x", Hero.name == "y")), bool)


async def async_pages(heroes: BaseRepository[Hero]) -> None:
    page = await heroes.page(
        col(Hero.age) >= 30, order_by=[Hero.name, col(Hero.age).desc()], limit=10
    )
    assert_type(page, Page[Hero])
    assert_type(page.items, list[Hero])
    assert_type(page.next_cursor, str | None)
    for hero in page.items:
        assert_type(hero, Hero)
    assert_type(await heroes.page(), Page[Hero])
    assert_type(await heroes.page(cursor=page.next_cursor), Page[Hero])
    if page.next_cursor is not None:
        assert_type(page.next_cursor, str)
        following = await heroes.page(col(Hero.age) >= 30, limit=10, cursor=page.next_cursor)
        assert_type(following, Page[Hero])
        assert_type(following.items, list[Hero])


async def async_bulk_writes(heroes: BaseRepository[Hero], hero: Hero) -> None:
    assert_type(await heroes.create_many([hero, hero]), list[Hero])
    assert_type(await heroes.update_many([hero]), list[Hero])
    assert_type(await heroes.update_many(h for h in [hero]), list[Hero])
    assert_type(await heroes.update_many(()), list[Hero])
    assert_type(await heroes.upsert(hero), Hero)
    assert_type(await heroes.delete_many([1, 2]), int)
    assert_type(await heroes.delete_many({1, "2", uuid.uuid4()}), int)
    assert_type(await heroes.delete_many(h.id for h in [hero] if h.id is not None), int)
    assert_type(await heroes.delete_where(Hero.name == "x"), int)
    assert_type(await heroes.delete_where(col(Hero.id).in_([1, 2]), col(Hero.age) >= 30), int)


# --- sync ---------------------------------------------------------------------------------------


def sync_provider_and_repository() -> None:
    with get_sync_provider() as provider:
        assert_type(provider, SyncRepositoryProvider)
        heroes = provider.get_repository(Hero)
        assert_type(heroes, BaseSyncRepository[Hero])
        assert_type(heroes.model, type[Hero])

        assert_type(heroes.get(1), Hero | None)
        assert_type(heroes.get_one(1), Hero)
        created = heroes.create(Hero(name="Deadpond", secret_name="Dive Wilson"))
        assert_type(created, Hero)
        assert_type(heroes.create_many([created]), list[Hero])
        assert_type(heroes.create_many(hero for hero in [created]), list[Hero])
        assert_type(heroes.update(created), Hero)
        assert_type(heroes.delete(1), bool)
        assert_type(heroes.list(), list[Hero])
        for hero in heroes.list():
            assert_type(hero, Hero)

        found = heroes.get(1)
        if found is not None:
            assert_type(found, Hero)

        teams = provider.get_repository(Team)
        assert_type(teams, BaseSyncRepository[Team])
        assert_type(teams.get_one("1"), Team)


def sync_uuid_keyed_model() -> None:
    with get_sync_provider("postgres") as provider:
        actions = provider.get_repository(ActionExecution)
        assert_type(actions, BaseSyncRepository[ActionExecution])
        key = uuid.uuid4()
        assert_type(actions.get(key), ActionExecution | None)
        action = actions.get_one(key)
        assert_type(action, ActionExecution)
        assert_type(action.id, uuid.UUID)
        assert_type(actions.create(ActionExecution(action_name="sync-users")), ActionExecution)
        assert_type(actions.update(action), ActionExecution)
        assert_type(actions.delete(key), bool)
        assert_type(actions.list(), list[ActionExecution])


def sync_entry_points() -> None:
    opened: AbstractContextManager[SyncRepositoryProvider] = get_sync_provider(
        "sqlite", url="sqlite:///:memory:", settings=Settings()
    )
    with opened as provider:
        assert_type(provider, SyncRepositoryProvider)
    with get_sync_provider(backend=None, url=None, settings=None) as provider:
        assert_type(provider, SyncRepositoryProvider)

    dependency = get_sync_repository_provider()
    assert_type(dependency, Generator[SyncRepositoryProvider, None, None])
    for provider in get_sync_repository_provider():
        assert_type(provider, SyncRepositoryProvider)
    assert_type(next(dependency), SyncRepositoryProvider)


def sync_sql_provider_is_a_sync_repository_provider(
    sql: SyncSqlRepositoryProvider,
) -> SyncRepositoryProvider:
    return sql


def sync_queries(heroes: BaseSyncRepository[Hero]) -> None:
    assert_type(heroes.list(Hero.name == "x"), list[Hero])
    assert_type(heroes.list(col(Hero.id).in_([1, 2]), col(Hero.age).is_(None)), list[Hero])
    assert_type(
        heroes.list(
            and_(Hero.name == "x", not_(col(Hero.name).startswith("a"))),
            or_(col(Hero.age) >= 30, col(Hero.age).is_(None)),
            order_by=[Hero.name, col(Hero.age).desc()],
            limit=10,
            offset=20,
        ),
        list[Hero],
    )
    assert_type(heroes.list(order_by=Hero.name), list[Hero])
    assert_type(heroes.first(), Hero | None)
    assert_type(heroes.first(col(Hero.age) >= 30, order_by=col(Hero.age).desc()), Hero | None)
    assert_type(heroes.count(), int)
    assert_type(heroes.count(Hero.name == "x"), int)
    assert_type(heroes.exists(), bool)
    assert_type(heroes.exists(col(Hero.name).startswith("a")), bool)


def sync_pages(heroes: BaseSyncRepository[Hero]) -> None:
    page = heroes.page(col(Hero.age) >= 30, order_by=col(Hero.age).desc(), limit=10)
    assert_type(page, Page[Hero])
    assert_type(page.items, list[Hero])
    assert_type(page.next_cursor, str | None)
    assert_type(heroes.page(cursor=page.next_cursor), Page[Hero])
    for hero in heroes.page(limit=5, cursor="opaque").items:
        assert_type(hero, Hero)


def sync_bulk_writes(heroes: BaseSyncRepository[Hero], hero: Hero) -> None:
    assert_type(heroes.create_many([hero]), list[Hero])
    assert_type(heroes.update_many([hero]), list[Hero])
    assert_type(heroes.upsert(hero), Hero)
    assert_type(heroes.delete_many([1, 2]), int)
    assert_type(heroes.delete_where(Hero.name == "x"), int)


# --- user code generic over the model -----------------------------------------------------------


async def first_or_none(repository: BaseRepository[T]) -> T | None:
    rows = await repository.list()
    return rows[0] if rows else None


async def fetch(provider: RepositoryProvider, model: type[T], id: PrimaryKey) -> T:
    return await provider.get_repository(model).get_one(id)


async def save_all(repository: BaseRepository[T], rows: list[T]) -> list[T]:
    return [await repository.create(row) for row in rows]


def sync_first_or_none(repository: BaseSyncRepository[T]) -> T | None:
    rows = repository.list()
    return rows[0] if rows else None


async def every_row(repository: BaseRepository[T]) -> list[T]:
    # Following cursors to the last page keeps the model type.
    rows: list[T] = []
    cursor: str | None = None
    while True:
        page = await repository.page(limit=100, cursor=cursor)
        assert_type(page, Page[T])
        rows.extend(page.items)
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


def sync_every_row(repository: BaseSyncRepository[T]) -> list[T]:
    rows: list[T] = []
    page = repository.page()
    rows.extend(page.items)
    while page.next_cursor is not None:
        page = repository.page(cursor=page.next_cursor)
        rows.extend(page.items)
    return rows


async def generic_user_code(provider: RepositoryProvider, sync: SyncRepositoryProvider) -> None:
    heroes = provider.get_repository(Hero)
    assert_type(await first_or_none(heroes), Hero | None)
    assert_type(
        await first_or_none(provider.get_repository(ActionExecution)), ActionExecution | None
    )
    assert_type(await fetch(provider, Team, 1), Team)
    assert_type(await save_all(heroes, [Hero(name="a", secret_name="b")]), list[Hero])
    assert_type(sync_first_or_none(sync.get_repository(Team)), Team | None)
    assert_type(await every_row(heroes), list[Hero])
    assert_type(sync_every_row(sync.get_repository(Team)), list[Team])


# --- primary keys -------------------------------------------------------------------------------


def primary_keys() -> list[PrimaryKey]:
    as_int: PrimaryKey = 1
    as_str: PrimaryKey = "1"
    as_uuid: PrimaryKey = uuid.uuid4()
    return [as_int, as_str, as_uuid]


# --- errors -------------------------------------------------------------------------------------


def error_taxonomy() -> list[type[ToolkitError]]:
    # Every public error is a ToolkitError, and a ToolkitError is an Exception.
    base: type[Exception] = ToolkitError
    assert_type(base, type[Exception])
    return [
        BackendUnavailableError,
        ConfigurationError,
        ConflictError,
        ConstraintError,
        NotFoundError,
        ValidationError,
    ]


async def error_details(heroes: BaseRepository[Hero]) -> None:
    try:
        await heroes.create(Hero(name="", secret_name="x"))
    except ValidationError as exc:
        assert_type(exc.errors, list[ErrorDetails])
        for error in exc.errors:
            assert_type(error["type"], str)
            assert_type(error["msg"], str)
            assert_type(error["loc"], tuple[int | str, ...])
    except NotFoundError as exc:
        assert_type(exc.model, str)
        assert_type(exc.id, object)
    except ConflictError as exc:
        assert_type(exc.model, str)
        assert_type(exc.fields, tuple[str, ...])
    except ConstraintError as exc:
        assert_type(exc.model, str)
        assert_type(exc.fields, tuple[str, ...])
    except ToolkitError as exc:
        assert_type(exc, ToolkitError)


# --- units of work, versions, patches, relationships -------------------------------------------


class WalletForm(SQLModel):
    label: str | None = None


async def async_units(provider: RepositoryProvider) -> None:
    assert_type(provider.transaction(), AbstractAsyncContextManager[None])
    async with provider.transaction():
        wallets = provider.get_repository(Wallet)
        wallet = await wallets.get_one(1, load=[Wallet.owner, Wallet.entries])
        assert_type(wallet, Wallet)
        assert_type(wallet.version, int)
        assert_type(wallet.owner, Owner | None)
        assert_type(wallet.entries, list[Entry])
        assert_type(await wallets.patch(1, {"label": "savings"}), Wallet)
        assert_type(await wallets.patch(1, WalletForm(label="savings")), Wallet)
        assert_type(await wallets.delete(1, version=wallet.version), bool)
        assert_type(await wallets.get(1, load=[Wallet.owner]), Wallet | None)
        assert_type(await wallets.list(load=[Wallet.owner]), list[Wallet])
        assert_type(await wallets.first(load=()), Wallet | None)
        assert_type(await wallets.page(limit=10, load=[Wallet.owner]), Page[Wallet])
        assert_type(wallets.stream(Wallet.balance > 0, batch_size=100), AsyncIterator[Wallet])
        async for streamed in wallets.stream(order_by=Wallet.label):
            assert_type(streamed, Wallet)
    error = StaleVersionError("Wallet", 1, 1, 2)
    assert_type(error, StaleVersionError)
    _conflict: ConflictError = error
    assert_type(error.current, int | None)
    assert_type(RelationshipNotLoadedError("Owner", "wallets").attribute, str)
    assert_type(Wallet.model_fields["version"].default, Any)
    _versioned: Versioned = Wallet(label="w", owner_id=1)


def sync_units(provider: SyncRepositoryProvider) -> None:
    assert_type(provider.transaction(), AbstractContextManager[None])
    with provider.transaction():
        wallets = provider.get_repository(Wallet)
        assert_type(wallets.get_one(1, load=[Wallet.owner]), Wallet)
        assert_type(wallets.patch(1, {"label": "savings"}), Wallet)
        assert_type(wallets.patch(1, WalletForm(label="savings")), Wallet)
        assert_type(wallets.delete(1, version=3), bool)
        assert_type(wallets.list(load=[Wallet.owner]), list[Wallet])
        assert_type(wallets.page(load=[Wallet.owner]), Page[Wallet])
        assert_type(wallets.stream(Wallet.balance > 0, batch_size=100), Iterator[Wallet])
        for streamed in wallets.stream(order_by=Wallet.label):
            assert_type(streamed, Wallet)
