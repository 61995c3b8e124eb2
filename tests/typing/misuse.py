"""Code that ``mypy --strict`` must reject: each offending line ends with ``# E: <error-code>``.

``mypy.ini`` excludes this file from the normal ``mypy`` run; ``test_typing.py`` checks it on its
own and requires exactly the marked errors, no more and no fewer. A line may name several codes,
separated by commas. Nothing here is ever called: importing the module only defines functions and
classes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator

from pydantic import BaseModel
from sqlmodel import SQLModel, col

from models import ActionExecution, Hero, Team
from toolkit import (
    BaseRepository,
    BaseSyncRepository,
    ConflictError,
    ConstraintError,
    NotFoundError,
    Page,
    PrimaryKey,
    RepositoryProvider,
    Settings,
    SyncRepositoryProvider,
    ValidationError,
    get_provider,
    get_repository_provider,
    get_sync_provider,
    get_sync_repository_provider,
    provider_dependency,
    repository_for,
    sync_provider_dependency,
    sync_repository_for,
)
from toolkit.problems import add_exception_handlers


def takes_async(repository: BaseRepository[Hero]) -> None: ...


def takes_sync(repository: BaseSyncRepository[Hero]) -> None: ...


def takes_any_model(repository: BaseRepository[SQLModel]) -> None: ...


# --- a repository stores one model -------------------------------------------------------------


async def wrong_model(provider: RepositoryProvider, hero: Hero) -> None:
    heroes = provider.get_repository(Hero)
    await heroes.create(Team(name="Preventers"))  # E: arg-type
    await heroes.update(Team(name="Preventers"))  # E: arg-type
    await heroes.create_many([Team(name="Preventers")])  # E: list-item
    await heroes.create_many(hero)  # E: arg-type
    _teams: BaseRepository[Team] = heroes  # E: assignment
    _other: BaseRepository[Hero] = provider.get_repository(Team)  # E: arg-type
    takes_any_model(heroes)  # E: arg-type
    provider.get_repository(int)  # E: type-var
    provider.get_repository(hero)  # E: arg-type
    _not_a_model: BaseRepository[int]  # E: type-var


async def results(provider: RepositoryProvider) -> None:
    heroes = provider.get_repository(Hero)
    _hero: Hero = await heroes.get(1)  # E: assignment
    print((await heroes.get(1)).name)  # E: union-attr
    _teams: list[Team] = await heroes.list()  # E: assignment
    _created: list[Team] = await heroes.create_many([])  # E: assignment
    for hero in await heroes.list():
        print(hero.headquarters)  # E: attr-defined
    _deleted: Hero = await heroes.delete(1)  # E: assignment
    _id: int = (await heroes.get_one(1)).id  # E: assignment
    actions = provider.get_repository(ActionExecution)
    _key: int = (await actions.get_one(uuid.uuid4())).id  # E: assignment
    (await heroes.get_one(1)).age = "old"  # E: assignment


async def keys(heroes: BaseRepository[Hero], sync_heroes: BaseSyncRepository[Hero]) -> None:
    await heroes.get(1.5)  # E: arg-type
    await heroes.get(None)  # E: arg-type
    await heroes.get_one(b"1")  # E: arg-type
    await heroes.delete([1])  # E: arg-type
    sync_heroes.get(1.5)  # E: arg-type
    _key: PrimaryKey = 1.5  # E: assignment


# --- async and sync do not mix ------------------------------------------------------------------


async def mixing(provider: RepositoryProvider, sync: SyncRepositoryProvider) -> None:
    heroes = provider.get_repository(Hero)
    sync_heroes = sync.get_repository(Hero)
    await sync_heroes.get(1)  # E: misc
    _hero: Hero = heroes.get_one(1)  # E: assignment
    heroes.delete(1)  # E: unused-coroutine
    takes_async(sync_heroes)  # E: arg-type
    takes_sync(heroes)  # E: arg-type
    _provider: RepositoryProvider = sync  # E: assignment
    _sync_provider: SyncRepositoryProvider = provider  # E: assignment
    with get_provider() as _p:  # E: attr-defined
        pass
    async with get_sync_provider() as _s:  # E: attr-defined
        pass
    for _x in get_repository_provider():  # E: attr-defined
        pass
    async for _y in get_sync_repository_provider():  # E: attr-defined
        pass
    _it: Iterator[RepositoryProvider] = get_repository_provider()  # E: assignment
    _ait: AsyncIterator[SyncRepositoryProvider] = get_sync_repository_provider()  # E: assignment


# --- entry points take what they document -------------------------------------------------------


async def entry_points() -> None:
    async with get_provider(backend=1):  # E: arg-type
        pass
    async with get_provider("sqlite", "sqlite:///x.db"):  # E: call-arg
        pass
    async with get_provider(database="x"):  # E: call-arg
        pass
    async with get_provider(settings=Settings(backend=1)):  # E: arg-type
        pass
    with get_sync_provider(settings={"backend": "sqlite"}):  # E: arg-type
        pass


# --- the API has what it has ----------------------------------------------------------------------


async def missing(heroes: BaseRepository[Hero], sync_heroes: BaseSyncRepository[Hero]) -> None:
    await heroes.get_all()  # E: attr-defined
    await heroes.save(Hero(name="Deadpond", secret_name="Dive Wilson"))  # E: attr-defined
    sync_heroes.filter(name="Deadpond")  # E: attr-defined
    BaseRepository[Hero]()  # E: abstract
    Hero(name=1, secret_name="Dive Wilson")  # E: arg-type
    Hero(nmae="Deadpond", name="Deadpond", secret_name="Dive Wilson")  # E: call-arg


# --- queries, pages and bulk writes take what they document -------------------------------------


async def queries(heroes: BaseRepository[Hero], team: Team) -> None:
    await heroes.list(limit="10")  # E: arg-type
    await heroes.list(offset=None)  # E: arg-type
    await heroes.list("name = 'Deadpond'")  # E: arg-type
    await heroes.list(col(Hero.age))  # E: arg-type
    await heroes.count(limit=1)  # E: call-arg
    await heroes.first(offset=1)  # E: call-arg
    await heroes.page(limit="10")  # E: arg-type
    await heroes.page(cursor=1)  # E: arg-type
    await heroes.page(cursor=b"opaque")  # E: arg-type
    # An order is a column: a SQLModel attribute typed other than `str` needs `col()`.
    await heroes.list(order_by=Hero.age)  # E: arg-type
    await heroes.list(order_by=42)  # E: arg-type
    await heroes.first(order_by=[col(Hero.age), 1.5])  # E: list-item
    await heroes.update_many([team])  # E: list-item
    await heroes.update_many(team)  # E: arg-type
    await heroes.upsert(team)  # E: arg-type
    await heroes.delete_many(1)  # E: arg-type
    await heroes.delete_many([1.5])  # E: list-item
    await heroes.delete_where(limit=1)  # E: call-arg


async def query_results(heroes: BaseRepository[Hero]) -> None:
    page = await heroes.page()
    _team: Team = page.items[0]  # E: assignment
    for hero in page.items:
        print(hero.headquarters)  # E: attr-defined
    _teams: Page[Team] = page  # E: assignment
    _cursor: str = page.next_cursor  # E: assignment
    page.items = []  # E: misc
    _hero: Hero = await heroes.first()  # E: assignment
    print((await heroes.first()).name)  # E: union-attr
    _count: bool = await heroes.count()  # E: assignment
    _updated: list[Team] = await heroes.update_many([])  # E: assignment
    _upserted: Team = await heroes.upsert(Hero(name="a", secret_name="b"))  # E: assignment
    _deleted: bool = await heroes.delete_many([1])  # E: assignment
    _gone: list[Hero] = await heroes.delete_where()  # E: assignment
    _rows: list[Hero] = heroes.list(limit=1)  # E: assignment


def sync_queries(heroes: BaseSyncRepository[Hero], team: Team) -> None:
    heroes.list(limit="10")  # E: arg-type
    heroes.page(cursor=1)  # E: arg-type
    heroes.update_many([team])  # E: list-item
    heroes.upsert(team)  # E: arg-type
    _team: Team = heroes.page().items[0]  # E: assignment
    _hero: Hero = heroes.first()  # E: assignment
    _count: str = heroes.count()  # E: assignment
    _deleted: str = heroes.delete_where()  # E: assignment


# --- errors ---------------------------------------------------------------------------------------


def errors(
    exc: ValidationError, missing: NotFoundError, taken: ConflictError, refused: ConstraintError
) -> None:
    print(exc.errors[0]["message"])  # E: typeddict-item
    print(exc.errors.keys())  # E: attr-defined
    _id: int = missing.id  # E: assignment
    _field: str = taken.fields  # E: assignment
    _fields: list[str] = refused.fields  # E: assignment
    raise NotFoundError("Hero")  # E: call-arg


def conflict_without_a_message() -> ConflictError:
    return ConflictError(model="Hero", fields=("name",))  # E: call-arg


# --- FastAPI --------------------------------------------------------------------------------------


class HeroForm(BaseModel):
    name: str


def dependencies_give_the_models_repository(settings: Settings) -> None:
    heroes = repository_for(Hero)
    _teams: Callable[[RepositoryProvider], BaseRepository[Team]] = heroes  # E: assignment
    sync_heroes = sync_repository_for(Hero)
    _sync: Callable[[RepositoryProvider], BaseRepository[Hero]] = sync_heroes  # E: assignment
    repository_for(HeroForm)  # E: type-var
    repository_for(Hero, get_sync_repository_provider)  # E: arg-type
    sync_repository_for(Hero, get_repository_provider)  # E: arg-type
    provider_dependency(settings)  # E: arg-type
    sync_provider_dependency("sqlite", "sqlite://")  # E: call-arg
    add_exception_handlers(settings)  # E: arg-type


# --- implementing the contracts -----------------------------------------------------------------


class WrongReturn(BaseRepository[Hero]):
    async def get(self, id: PrimaryKey) -> Team | None:  # E: override
        raise NotImplementedError


class SyncMethod(BaseRepository[Hero]):
    def get(self, id: PrimaryKey) -> Hero | None:  # E: override
        raise NotImplementedError


class NarrowerKey(BaseSyncRepository[Hero]):
    def get(self, id: int) -> Hero | None:  # E: override
        raise NotImplementedError


def instantiate_incomplete() -> None:
    WrongReturn()  # E: abstract


class HeroesOnly:
    def get_repository(self, model_cls: type[Hero]) -> BaseRepository[Hero]:
        raise NotImplementedError


def not_a_provider() -> RepositoryProvider:
    return HeroesOnly()  # E: return-value


# --- units of work, versions, patches, relationships -------------------------------------------


async def unit_misuse(provider: RepositoryProvider, hero: Hero) -> None:
    heroes = provider.get_repository(Hero)
    await heroes.patch(1, ["name"])  # E: arg-type
    await heroes.patch(1, hero.name)  # E: arg-type
    await heroes.delete(1, version="2")  # E: arg-type
    await heroes.delete(1, 2)  # E: call-arg
    await heroes.get(1, [Hero.powers])  # E: call-arg
    await heroes.stream()  # E: misc
    for _hero in heroes.stream():  # E: attr-defined
        pass
    with provider.transaction():  # E: attr-defined
        pass


async def sync_unit_misuse(provider: SyncRepositoryProvider) -> None:
    heroes = provider.get_repository(Hero)
    heroes.patch(1, None)  # E: arg-type
    async with provider.transaction():  # E: attr-defined
        pass
