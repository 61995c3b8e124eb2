"""URL options reach the server the same way on the async and the sync driver of a backend,
and settings never show a password, in logs included: against the real services."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from models import ActionExecution
from tests.services import silent_server
from toolkit.config import Settings
from toolkit.errors import BackendUnavailableError, ToolkitError
from toolkit.storage_dependencies import get_provider
from toolkit.sync_storage_dependencies import get_sync_provider

PASSWORD = "s3cret-pw"


def sessions_named(postgres_url: str, name: str) -> int:
    """How many server sessions of the test database have ``application_name`` ``name``."""
    url = make_url(postgres_url)
    engine = create_engine(url.set(drivername="postgresql+psycopg2"))
    try:
        with engine.connect() as connection:
            count = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name = :name AND datname = :database"
                ),
                {"name": name, "database": url.database},
            ).scalar_one()
    finally:
        engine.dispose()
    return int(count)


def postgres_settings(base_settings: Settings, postgres_url: str, query: str) -> Settings:
    return base_settings.replace(postgres_url=f"{postgres_url}?{query}")


PATHS = ("async", "sync")


async def use(settings: Settings, path: str) -> None:
    """One call through a provider on ``path``: it connects, and makes its tables."""
    if path == "async":
        async with get_provider("postgres", settings=settings) as provider:
            await provider.get_repository(ActionExecution).get(uuid.uuid4())
    else:
        with get_sync_provider("postgres", settings=settings) as sync_provider:
            sync_provider.get_repository(ActionExecution).get(uuid.uuid4())


async def outcome(settings: Settings, path: str) -> ToolkitError | None:
    """The error `use` raises, if any."""
    try:
        await use(settings, path)
    except ToolkitError as exc:
        return exc
    return None


# --- PostgreSQL ----------------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["application_name={}", "options=-c application_name={}"])
async def test_application_name_reaches_the_server_on_both_paths(
    base_settings: Settings, postgres_url: str, option: str
) -> None:
    names = {path: f"toolkit-{path}-{uuid.uuid4().hex[:8]}" for path in ("async", "sync")}

    def settings_for(path: str) -> Settings:
        query = option.format(quote(names[path]))
        return postgres_settings(base_settings, postgres_url, query.replace(" ", "%20"))

    async with get_provider("postgres", settings=settings_for("async")) as provider:
        await provider.get_repository(ActionExecution).get(uuid.uuid4())
        assert sessions_named(postgres_url, names["async"]) == 1  # the provider's connection
    with get_sync_provider("postgres", settings=settings_for("sync")) as sync_provider:
        sync_provider.get_repository(ActionExecution).get(uuid.uuid4())
        assert sessions_named(postgres_url, names["sync"]) == 1


@pytest.mark.parametrize(
    "query",
    [
        "sslmode=disable",
        "sslmode=prefer&connect_timeout=3",
        "target_session_attrs=any&application_name=toolkit-tests",
        "options=-c%20statement_timeout%3D4000%20-c%20lock_timeout%3D1000",
    ],
)
async def test_supported_options_work_on_both_paths(
    base_settings: Settings, postgres_url: str, query: str
) -> None:
    settings = postgres_settings(base_settings, postgres_url, query)

    for path in PATHS:
        await use(settings, path)


async def test_sslmode_require_has_the_same_outcome_on_both_paths(
    base_settings: Settings, postgres_url: str
) -> None:
    settings = postgres_settings(base_settings, postgres_url, "sslmode=require")

    errors = [await outcome(settings, path) for path in PATHS]

    # A server without SSL refuses both drivers alike; one with SSL serves both.
    assert type(errors[0]) is type(errors[1])
    for error in errors:
        assert error is None or isinstance(error, BackendUnavailableError)
        assert error is None or "SSL" in str(error)


@pytest.mark.parametrize("path", PATHS)
async def test_the_url_connect_timeout_bounds_connecting_on_both_paths(
    base_settings: Settings, path: str
) -> None:
    with silent_server() as port:
        settings = base_settings.replace(
            postgres_url=f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/x?connect_timeout=2",
            connect_timeout=60.0,  # the URL's own option wins over the setting
        )
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError) as caught:
            await use(settings, path)

    assert time.monotonic() - started < 10
    assert PASSWORD not in str(caught.value)


async def test_statement_logging_never_shows_the_password(
    base_settings: Settings, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Trust authentication: the server accepts the connection whatever the password.
    with_password = make_url(postgres_url).set(password=PASSWORD)
    settings = base_settings.replace(
        postgres_url=with_password.render_as_string(hide_password=False), echo=True
    )

    with caplog.at_level(logging.DEBUG):
        logging.getLogger("toolkit.tests").info("opening with %s (%r)", settings, settings)
        for path in PATHS:
            await use(settings, path)

    assert "SELECT" in caplog.text  # the statements were logged
    assert "postgres:***@" in caplog.text
    assert PASSWORD not in caplog.text


# --- Redis ---------------------------------------------------------------------------------------


@pytest.fixture
def redis_admin(redis_url: str) -> Iterator[redis.Redis[str]]:
    client: redis.Redis[str] = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        client.close()


def client_names(admin: redis.Redis[str]) -> set[str]:
    return {str(client.get("name", "")) for client in admin.client_list()}


async def test_redis_url_options_reach_the_server_on_both_paths(
    base_settings: Settings, redis_url: str, redis_admin: redis.Redis[str]
) -> None:
    names = {path: f"toolkit-{path}-{uuid.uuid4().hex[:8]}" for path in ("async", "sync")}
    prefix = f"t{uuid.uuid4().hex[:10]}"

    def settings_for(path: str) -> Settings:
        return base_settings.replace(
            redis_url=f"{redis_url}?client_name={names[path]}&socket_timeout=5"
            "&socket_keepalive=true&health_check_interval=30",
            redis_key_prefix=prefix,
        )

    async with get_provider("redis", settings=settings_for("async")) as provider:
        assert await provider.get_repository(ActionExecution).get(uuid.uuid4()) is None
        assert names["async"] in client_names(redis_admin)
    with get_sync_provider("redis", settings=settings_for("sync")) as sync_provider:
        assert sync_provider.get_repository(ActionExecution).get(uuid.uuid4()) is None
        assert names["sync"] in client_names(redis_admin)
