"""Toolkit errors as HTTP answers (`add_exception_handlers`), through a FastAPI app on each backend.

The app's endpoints ask for one model's repository (`repository_for`), async under ``/async`` and
sync under ``/sync``; the test points the dependencies at the backend under test with settings of
its own (`provider_dependency`, as an override of the environment's dependency), so no
environment variable is read. Each answer is asserted whole: status, media type, headers, body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from pydantic import BaseModel
from sqlalchemy import func

from models import Hero, Team
from tests.conftest import SECRET, location, url_field
from toolkit import (
    BaseRepository,
    BaseSyncRepository,
    ConfigurationError,
    RepositoryProvider,
    Settings,
    add_exception_handlers,
    get_provider,
    get_repository_provider,
    get_sync_repository_provider,
    provider_dependency,
    repository_for,
    sync_provider_dependency,
    sync_repository_for,
)

Heroes = Annotated[BaseRepository[Hero], Depends(repository_for(Hero))]
Teams = Annotated[BaseRepository[Team], Depends(repository_for(Team))]
SyncHeroes = Annotated[BaseSyncRepository[Hero], Depends(sync_repository_for(Hero))]
SyncTeams = Annotated[BaseSyncRepository[Team], Depends(sync_repository_for(Team))]

PROBLEM = "application/problem+json"
MODES = ["async", "sync"]


class HeroIn(BaseModel):
    """A request body of the shape alone: the repository checks the Hero schema."""

    name: str
    secret_name: str
    team_id: int | None = None


class TeamIn(BaseModel):
    name: str


def problem_app(settings: Settings) -> FastAPI:
    """The same endpoints async and sync, on ``settings``, with the toolkit's error handlers."""
    app = FastAPI()
    add_exception_handlers(app)
    app.dependency_overrides[get_repository_provider] = provider_dependency(settings=settings)
    app.dependency_overrides[get_sync_repository_provider] = sync_provider_dependency(
        settings=settings
    )

    @app.get("/async/heroes/{hero_id}")
    async def read_hero(hero_id: int, heroes: Heroes) -> Hero:
        return await heroes.get_one(hero_id)

    @app.get("/async/heroes")
    async def heroes_by_lowercase_name(heroes: Heroes) -> list[Hero]:
        return await heroes.list(order_by=func.lower(Hero.name))  # outside the portable subset

    @app.post("/async/heroes", status_code=201)
    async def create_hero(body: HeroIn, heroes: Heroes) -> Hero:
        return await heroes.create(Hero(**body.model_dump()))

    @app.post("/async/teams", status_code=201)
    async def create_team(body: TeamIn, teams: Teams) -> Team:
        return await teams.create(Team(**body.model_dump()))

    @app.delete("/async/teams/{team_id}", status_code=204)
    async def delete_team(team_id: int, teams: Teams) -> None:
        await teams.delete(team_id)

    @app.get("/sync/heroes/{hero_id}")
    def read_hero_sync(hero_id: int, heroes: SyncHeroes) -> Hero:
        return heroes.get_one(hero_id)

    @app.get("/sync/heroes")
    def heroes_by_lowercase_name_sync(heroes: SyncHeroes) -> list[Hero]:
        return heroes.list(order_by=func.lower(Hero.name))

    @app.post("/sync/heroes", status_code=201)
    def create_hero_sync(body: HeroIn, heroes: SyncHeroes) -> Hero:
        return heroes.create(Hero(**body.model_dump()))

    @app.post("/sync/teams", status_code=201)
    def create_team_sync(body: TeamIn, teams: SyncTeams) -> Team:
        return teams.create(Team(**body.model_dump()))

    @app.delete("/sync/teams/{team_id}", status_code=204)
    def delete_team_sync(team_id: int, teams: SyncTeams) -> None:
        teams.delete(team_id)

    return app


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(problem_app(settings)) as opened:
        yield opened


def answer(response: Response) -> tuple[int, str, dict[str, Any]]:
    return response.status_code, response.headers["content-type"], response.json()


def problem(status: int, kind: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    body = {"type": f"tag:toolkit,2025:{kind}", "title": title, "status": status, "detail": detail}
    return body | extra


# --- each error, its status and its body, on every backend and both paths ----------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_missing_row_is_404(client: TestClient, mode: str) -> None:
    missing = client.get(f"/{mode}/heroes/424242")

    assert answer(missing) == (
        404,
        PROBLEM,
        problem(404, "not-found", "Not found", "Hero with id 424242 not found", model="Hero"),
    )


@pytest.mark.parametrize("mode", MODES)
def test_a_taken_unique_value_is_409_naming_the_field(client: TestClient, mode: str) -> None:
    assert client.post(f"/{mode}/teams", json={"name": "Avengers"}).status_code == 201

    taken = client.post(f"/{mode}/teams", json={"name": "Avengers"})

    assert answer(taken) == (
        409,
        PROBLEM,
        problem(409, "conflict", "Conflict", "Team: name is taken", fields=["name"], model="Team"),
    )


@pytest.mark.parametrize("mode", MODES)
def test_a_missing_parent_is_409_naming_the_foreign_key(client: TestClient, mode: str) -> None:
    orphan = client.post(
        f"/{mode}/heroes", json={"name": "Orphan", "secret_name": "o", "team_id": 424242}
    )

    assert answer(orphan) == (
        409,
        PROBLEM,
        problem(
            409,
            "constraint",
            "Constraint violated",
            "Hero: team_id refers to a missing row",
            fields=["team_id"],
            model="Hero",
        ),
    )


@pytest.mark.parametrize("mode", MODES)
def test_deleting_a_referenced_row_is_409(client: TestClient, mode: str) -> None:
    team_id = client.post(f"/{mode}/teams", json={"name": "Keepers"}).json()["id"]
    member = {"name": "Member", "secret_name": "m", "team_id": team_id}
    assert client.post(f"/{mode}/heroes", json=member).status_code == 201

    refused = client.delete(f"/{mode}/teams/{team_id}")

    assert answer(refused) == (
        409,
        PROBLEM,
        problem(
            409,
            "constraint",
            "Constraint violated",
            "Team: other rows still refer to this row",
            fields=[],
            model="Team",
        ),
    )


@pytest.mark.parametrize("mode", MODES)
def test_values_the_model_refuses_are_422_with_the_errors_but_not_the_values(
    client: TestClient, mode: str
) -> None:
    refused = client.post(f"/{mode}/heroes", json={"name": "", "secret_name": SECRET * 20})

    errors = [
        {
            "loc": ["name"],
            "msg": "String should have at least 1 character",
            "type": "string_too_short",
        },
        {
            "loc": ["secret_name"],
            "msg": "String should have at most 100 characters",
            "type": "string_too_long",
        },
    ]
    assert answer(refused) == (
        422,
        PROBLEM,
        problem(
            422,
            "validation",
            "Invalid values",
            "name: String should have at least 1 character; "
            "secret_name: String should have at most 100 characters",
            errors=errors,
        ),
    )
    assert SECRET not in refused.text


@pytest.mark.parametrize("mode", MODES)
def test_a_query_outside_the_portable_subset_is_400(client: TestClient, mode: str) -> None:
    unsupported = client.get(f"/{mode}/heroes")

    assert answer(unsupported) == (
        400,
        PROBLEM,
        problem(
            400,
            "unsupported-query",
            "Unsupported query",
            "The storage backend cannot answer this query exactly.",
        ),
    )


@pytest.mark.parametrize("mode", MODES)
def test_an_unreachable_backend_is_503_with_retry_after(
    unreachable_settings: Settings, mode: str
) -> None:
    with TestClient(problem_app(unreachable_settings)) as client:
        unavailable = client.get(f"/{mode}/heroes/1")

    assert answer(unavailable) == (
        503,
        PROBLEM,
        problem(
            503,
            "unavailable",
            "Storage unavailable",
            "The storage backend is unavailable; try again later.",
        ),
    )
    assert unavailable.headers["retry-after"] == "5"


@pytest.mark.parametrize("mode", MODES)
def test_a_misconfigured_backend_is_500_and_logged(
    settings: Settings,
    backend: str,
    malformed_urls: list[str],
    mode: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    misconfigured = settings.with_url(url_field(backend), malformed_urls[0])

    with TestClient(problem_app(misconfigured)) as client:
        failed = client.get(f"/{mode}/heroes/1")

    assert answer(failed) == (
        500,
        PROBLEM,
        problem(500, "internal", "Internal error", "The server could not complete the request."),
    )
    (record,) = [record for record in caplog.records if record.name == "toolkit.problems"]
    assert record.levelname == "ERROR"
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ConfigurationError)


# --- nothing of the server's insides ----------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_no_answer_tells_driver_text_sql_hosts_or_passwords(
    client: TestClient,
    settings: Settings,
    unreachable_settings: Settings,
    backend: str,
    malformed_urls: list[str],
    mode: str,
) -> None:
    team_id = client.post(f"/{mode}/teams", json={"name": "Taken"}).json()["id"]
    client.post(f"/{mode}/heroes", json={"name": "M", "secret_name": "m", "team_id": team_id})
    answers = [
        client.get(f"/{mode}/heroes/424242"),
        client.post(f"/{mode}/teams", json={"name": "Taken"}),
        client.post(f"/{mode}/heroes", json={"name": "O", "secret_name": "o", "team_id": 4242}),
        client.delete(f"/{mode}/teams/{team_id}"),
        client.post(f"/{mode}/heroes", json={"name": "", "secret_name": SECRET * 20}),
        client.get(f"/{mode}/heroes"),
    ]
    misconfigured = settings.with_url(url_field(backend), malformed_urls[0])
    for broken in (unreachable_settings, misconfigured):
        with TestClient(problem_app(broken)) as other:
            answers.append(other.get(f"/{mode}/heroes/1"))

    assert sorted(response.status_code for response in answers) == [
        400,
        404,
        409,
        409,
        409,
        422,
        500,
        503,
    ]
    told = "\n".join(f"{response.headers}\n{response.text}" for response in answers).lower()
    secrets = [
        SECRET,
        location(settings, backend),
        location(unreachable_settings, backend),
        "127.0.0.1",
        "localhost",
    ]
    drivers = ["asyncpg", "psycopg", "sqlite", "postgres", "redis", "unique constraint"]
    sql = ["select", "insert", "delete from", "lower(", "hero.name", "duplicate key", "violates"]
    internals = ["traceback", 'file "', "sqlalchemy", "toolkit/", "error:"]
    assert [word for word in secrets + drivers + sql + internals if word.lower() in told] == []


# --- the dependencies ---------------------------------------------------------------------------


async def test_the_repositories_of_a_request_share_its_one_provider(settings: Settings) -> None:
    opened: list[RepositoryProvider] = []

    async def counted() -> AsyncIterator[RepositoryProvider]:
        async with get_provider(settings=settings) as provider:
            opened.append(provider)
            yield provider

    app = FastAPI()
    add_exception_handlers(app)

    @app.post("/teams/{name}", status_code=201)
    async def create_team_and_leader(
        name: str,
        teams: BaseRepository[Team] = Depends(repository_for(Team, counted)),  # noqa: B008
        heroes: BaseRepository[Hero] = Depends(repository_for(Hero, counted)),  # noqa: B008
        provider: RepositoryProvider = Depends(counted),  # noqa: B008
    ) -> Hero:
        async with provider.transaction():  # both writes, or neither
            team = await teams.create(Team(name=name))
            return await heroes.create(Hero(name="Lead", secret_name="l", team_id=team.id))

    with TestClient(app) as client:
        created = client.post("/teams/Alpha")
        refused = client.post("/teams/Alpha")  # the team's name is taken: no hero either

    assert created.status_code == 201
    assert refused.status_code == 409
    assert len(opened) == 2  # one provider per request, for its three dependencies
    async with get_provider(settings=settings) as provider:
        assert [hero.name for hero in await provider.get_repository(Hero).list()] == ["Lead"]


def test_a_provider_dependency_on_an_unknown_backend_fails_when_the_app_is_made(
    settings: Settings,
) -> None:
    with pytest.raises(ConfigurationError, match="unknown storage backend 'cassandra'"):
        provider_dependency("cassandra")
    with pytest.raises(ConfigurationError, match="unknown storage backend 'cassandra'"):
        sync_provider_dependency(settings=settings.replace(backend="cassandra"))


def test_a_repository_dependency_needs_a_table_model() -> None:
    with pytest.raises(ConfigurationError, match="is not a SQLModel class declared with table"):
        repository_for(HeroIn)  # type: ignore[type-var]  # a pydantic model, no table
