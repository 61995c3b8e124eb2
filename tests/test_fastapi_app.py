"""The example app `examples.fastapi_app`, driven by starlette's TestClient on each backend.

The app's dependencies read the backend from the environment, so each test points the
``STORAGE_*`` variables at the backend under test (the ``settings`` fixture).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlmodel import SQLModel

from examples.fastapi_app import ExampleFailure, app, create_app
from models import Hero, Team
from tests.services import free_port
from tests.test_event_loops import describe, no_warnings_recorded, open_connections, still_open
from toolkit.config import Settings
from toolkit.repositories.sql._postgres import POSTGRES
from toolkit.repositories.sql._sqlite import SQLITE
from toolkit.sync_storage_dependencies import get_sync_provider

_POOL_VARIABLES = (
    "STORAGE_POOL_SIZE",
    "STORAGE_MAX_OVERFLOW",
    "STORAGE_POOL_TIMEOUT",
    "STORAGE_POOL_RECYCLE",
    "STORAGE_POOL_PRE_PING",
    "STORAGE_AUTO_CREATE",
    "STORAGE_ECHO",
)


@pytest.fixture(autouse=True)
def environment(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point the app's dependencies at the backend under test, whose tables exist."""
    for name in _POOL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STORAGE_BACKEND", settings.backend)
    monkeypatch.setenv("POSTGRES_DATABASE_URL", settings.postgres_url.get_secret_value())
    monkeypatch.setenv("SQLITE_DATABASE_URL", settings.sqlite_url.get_secret_value())
    monkeypatch.setenv("REDIS_URL", settings.redis_url.get_secret_value())
    monkeypatch.setenv("REDIS_KEY_PREFIX", settings.redis_key_prefix)
    monkeypatch.setenv("STORAGE_CONNECT_TIMEOUT", str(settings.connect_timeout))
    monkeypatch.setenv("STORAGE_COMMAND_TIMEOUT", str(settings.command_timeout))
    # A setting no other test uses: sync engines live for the process, and these tests should
    # neither see nor leave the table bookkeeping of the other tests' engines.
    monkeypatch.setenv("STORAGE_POOL_RECYCLE", "3600")
    if settings.backend == "redis":
        return settings  # a key prefix of its own: nothing to see from other tests
    # Other tests drop tables; the process-wide sync engine made them once and would not again.
    dialect = POSTGRES if settings.backend == "postgres" else SQLITE
    engine = create_engine(dialect.url(settings, is_async=False))
    try:
        SQLModel.metadata.create_all(engine)
    finally:
        engine.dispose()
    return settings


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(app) as opened:
        yield opened


def stored_heroes() -> list[Hero]:
    """The heroes in the backend the environment names, read without the app."""
    with get_sync_provider() as provider:
        return provider.get_repository(Hero).list()


def stored_teams() -> list[Team]:
    with get_sync_provider() as provider:
        return provider.get_repository(Team).list()


# --- round trips ---------------------------------------------------------------------------------


def test_async_create_then_get_round_trips(client: TestClient) -> None:
    created = client.post("/heroes", json={"name": "Deadpond", "secret_name": "Dive Wilson"})

    assert created.status_code == 201
    body = created.json()
    assert isinstance(body["id"], int)
    assert body == {
        "id": body["id"],
        "name": "Deadpond",
        "secret_name": "Dive Wilson",
        "age": None,
        "team_id": None,
    }
    fetched = client.get(f"/heroes/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body
    # Written to the backend the environment names, not elsewhere.
    assert [hero.model_dump() for hero in stored_heroes()] == [body]


def test_sync_list_returns_every_hero_in_id_order(client: TestClient) -> None:
    with get_sync_provider() as provider:
        heroes = provider.get_repository(Hero)
        for id in (3, 1, 2):
            heroes.create(Hero(id=id, name=f"hero {id}", secret_name="s", age=20 + id))

    listed = client.get("/sync/heroes")

    assert listed.status_code == 200
    assert listed.json() == [
        {"id": id, "name": f"hero {id}", "secret_name": "s", "age": 20 + id, "team_id": None}
        for id in (1, 2, 3)
    ]


def test_sync_list_of_no_heroes_is_empty(client: TestClient) -> None:
    listed = client.get("/sync/heroes")

    assert listed.status_code == 200
    assert listed.json() == []


def test_sync_create_team_then_async_create_a_member(client: TestClient) -> None:
    team = client.post("/sync/teams", json={"name": "Preventers", "headquarters": "Tower"})
    assert team.status_code == 201
    team_id = team.json()["id"]
    assert team.json() == {"id": team_id, "name": "Preventers", "headquarters": "Tower"}

    hero = client.post("/heroes", json={"name": "Member", "secret_name": "m", "team_id": team_id})

    assert hero.status_code == 201
    assert hero.json()["team_id"] == team_id
    assert client.get("/sync/heroes").json() == [hero.json()]


# --- errors as HTTP answers: problem details ----------------------------------------------------


def problem(status: int, kind: str, title: str, detail: str, **extra: object) -> dict[str, object]:
    body = {"type": f"tag:toolkit,2025:{kind}", "title": title, "status": status, "detail": detail}
    return body | extra


def test_a_missing_hero_is_404(client: TestClient) -> None:
    missing = client.get("/heroes/123456")

    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json() == problem(
        404, "not-found", "Not found", "Hero with id 123456 not found", model="Hero"
    )


def test_deleting_a_missing_team_is_404(client: TestClient) -> None:
    missing = client.delete("/sync/teams/424242")

    assert missing.status_code == 404
    assert missing.json() == problem(
        404, "not-found", "Not found", "Team with id 424242 not found", model="Team"
    )


def test_a_duplicate_team_name_is_409_and_writes_nothing(client: TestClient) -> None:
    assert client.post("/sync/teams", json={"name": "Avengers"}).status_code == 201

    duplicate = client.post("/sync/teams", json={"name": "Avengers", "headquarters": "elsewhere"})

    assert duplicate.status_code == 409
    assert duplicate.json() == problem(
        409, "conflict", "Conflict", "Team: name is taken", fields=["name"], model="Team"
    )
    assert [(team.name, team.headquarters) for team in stored_teams()] == [("Avengers", None)]


def test_a_hero_in_a_missing_team_is_409_and_writes_nothing(client: TestClient) -> None:
    refused = client.post("/heroes", json={"name": "Orphan", "secret_name": "o", "team_id": 4242})

    assert refused.status_code == 409
    assert refused.json() == problem(
        409,
        "constraint",
        "Constraint violated",
        "Hero: team_id refers to a missing row",
        fields=["team_id"],
        model="Hero",
    )
    assert stored_heroes() == []


def test_deleting_a_team_with_members_is_409_and_keeps_it(client: TestClient) -> None:
    team_id = client.post("/sync/teams", json={"name": "Keepers"}).json()["id"]
    client.post("/heroes", json={"name": "Member", "secret_name": "m", "team_id": team_id})

    refused = client.delete(f"/sync/teams/{team_id}")

    assert refused.status_code == 409
    assert refused.json() == problem(
        409,
        "constraint",
        "Constraint violated",
        "Team: other rows still refer to this row",
        fields=[],
        model="Team",
    )
    assert [team.id for team in stored_teams()] == [team_id]
    deleted = client.delete("/sync/teams/999999")
    assert deleted.status_code == 404


@pytest.mark.parametrize(
    ("body", "location", "error_type", "message"),
    [
        (
            {"name": "", "secret_name": "x"},
            "name",
            "string_too_short",
            "String should have at least 1 character",
        ),
        (
            {"name": "x" * 101, "secret_name": "x"},
            "name",
            "string_too_long",
            "String should have at most 100 characters",
        ),
        (
            {"name": "ok", "secret_name": "x", "age": -1},
            "age",
            "greater_than_equal",
            "Input should be greater than or equal to 0",
        ),
    ],
)
def test_a_hero_the_model_refuses_is_422_with_the_errors_and_writes_nothing(
    client: TestClient,
    body: dict[str, object],
    location: str,
    error_type: str,
    message: str,
) -> None:
    refused = client.post("/heroes", json=body)

    assert refused.status_code == 422
    # The toolkit's ValidationError (problem details), not FastAPI's own body check.
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json() == problem(
        422,
        "validation",
        "Invalid values",
        f"{location}: {message}",
        errors=[{"loc": [location], "msg": message, "type": error_type}],
    )
    assert stored_heroes() == []


def test_a_team_the_model_refuses_is_422_on_the_sync_path(client: TestClient) -> None:
    refused = client.post("/sync/teams", json={"name": ""})

    assert refused.status_code == 422
    assert refused.json()["detail"] == "name: String should have at least 1 character"
    assert [error["loc"] for error in refused.json()["errors"]] == [["name"]]
    assert stored_teams() == []


def test_an_unreachable_backend_is_503_without_details(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    missing_dir = tmp_path_factory.mktemp("unreachable") / "no-such-dir"
    # Nothing listens on a free port; SQLite cannot create a file in a missing directory.
    closed_port_url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{free_port()}/x"
    monkeypatch.setenv("POSTGRES_DATABASE_URL", closed_port_url)
    monkeypatch.setenv("SQLITE_DATABASE_URL", f"sqlite:///{missing_dir}/toolkit.db")
    monkeypatch.setenv("REDIS_URL", f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0")

    with TestClient(create_app()) as unreachable:
        answers = [unreachable.get("/heroes/1"), unreachable.get("/sync/heroes")]

    for answer in answers:
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert answer.json() == problem(
            503,
            "unavailable",
            "Storage unavailable",
            "The storage backend is unavailable; try again later.",
        )
    assert not missing_dir.exists()


def test_an_app_given_settings_reads_no_environment(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The environment names a backend that does not exist: only the given settings can work.
    monkeypatch.setenv("STORAGE_BACKEND", "cassandra")

    with TestClient(create_app(settings)) as configured:
        created = configured.post("/heroes", json={"name": "Given", "secret_name": "g"})
        listed = configured.get("/sync/heroes")
        assert configured.get(f"/heroes/{created.json()['id']}").json() == created.json()

    assert created.status_code == 201
    assert listed.json() == [created.json()]
    with TestClient(app) as from_environment:
        assert from_environment.get("/sync/heroes").status_code == 500


# --- event loops and the providers' lifetime ----------------------------------------------------


def test_two_test_clients_in_one_test_each_run_on_a_loop_of_their_own(
    settings: Settings,
) -> None:
    before = open_connections(settings)
    with no_warnings_recorded() as caught:
        with TestClient(app) as first:
            created = first.post("/heroes", json={"name": "First", "secret_name": "1"})
            assert created.status_code == 201
            assert first.get(f"/heroes/{created.json()['id']}").json() == created.json()
            opened_by_first = open_connections(settings) - before
        # The first client's loop has ended, and with it its engine and connections.
        assert len(opened_by_first) >= 1
        assert still_open(settings, opened_by_first) == set()

        with TestClient(app) as second:
            # The first loop's pooled connections would fail here if they were reused.
            assert second.get(f"/heroes/{created.json()['id']}").json() == created.json()
            other = second.post("/heroes", json={"name": "Second", "secret_name": "2"})
            assert other.status_code == 201
            assert [hero["name"] for hero in second.get("/sync/heroes").json()] == [
                "First",
                "Second",
            ]

    assert describe(caught) == []


def test_requests_without_a_with_block_each_run_on_a_new_loop() -> None:
    with no_warnings_recorded() as caught:
        unmanaged = TestClient(app)
        ids = [
            unmanaged.post("/heroes", json={"name": f"hero {i}", "secret_name": "s"}).json()["id"]
            for i in range(3)
        ]
        assert [unmanaged.get(f"/heroes/{id}").json()["name"] for id in ids] == [
            "hero 0",
            "hero 1",
            "hero 2",
        ]
        unmanaged.close()

    assert describe(caught) == []
    assert [hero.name for hero in stored_heroes()] == ["hero 0", "hero 1", "hero 2"]


def test_the_provider_is_closed_after_each_request_also_when_the_endpoint_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One connection per pool and a short wait for it: had a request kept its provider's
    # connection, the next request would time out waiting for the pool.
    monkeypatch.setenv("STORAGE_POOL_SIZE", "1")
    monkeypatch.setenv("STORAGE_MAX_OVERFLOW", "0")
    monkeypatch.setenv("STORAGE_POOL_TIMEOUT", "2")

    with TestClient(app) as client:
        for _ in range(3):
            with pytest.raises(ExampleFailure, match="async endpoint failed"):
                client.get("/failures/async")
            with pytest.raises(ExampleFailure, match="sync endpoint failed"):
                client.get("/failures/sync")
            # Toolkit errors raised after a query, then turned into answers by the handlers.
            assert client.get("/heroes/777").status_code == 404
            assert client.delete("/sync/teams/777").status_code == 404

        created = client.post("/heroes", json={"name": "After", "secret_name": "a"})
        assert created.status_code == 201
        assert client.get(f"/heroes/{created.json()['id']}").status_code == 200
        assert client.get("/sync/heroes").json() == [created.json()]


def test_a_raising_endpoint_is_a_500_when_server_errors_are_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORAGE_POOL_SIZE", "1")
    monkeypatch.setenv("STORAGE_MAX_OVERFLOW", "0")
    monkeypatch.setenv("STORAGE_POOL_TIMEOUT", "2")

    with TestClient(app, raise_server_exceptions=False) as client:
        statuses = [client.get(f"/failures/{kind}").status_code for kind in ("async", "sync") * 3]
        listed = client.get("/sync/heroes")

    assert statuses == [500] * 6
    assert listed.status_code == 200
    assert listed.json() == []
