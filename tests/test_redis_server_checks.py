"""What the Redis backend checks on the server, and what it leaves there.

- A Redis without RedisJSON and RediSearch is refused, naming both modules, before any write.
- A server that accepts the connection and never answers is unavailable within the connect
  timeout, not the command timeout; a command slower than the connect timeout still succeeds.
- What no backend keeps exactly (NaN, -0.0, text with a NUL) is a `ValidationError` from
  the middle of a batch, and nothing of the batch is written.
- A URL naming a database other than 0 is a configuration error (RediSearch indexes only 0).
- The search index of a model exists after its first use, with the indexed fields, is made
  once however many clients start at once, and is required when auto-create is off. A changed
  model's index is built beside the one in use and serves only once complete.
- Documents are laid out as `toolkit.repositories.redis._keys` and `_codecs` document them,
  read back with redis-py.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlmodel import col

from models import Gadget, Hero, Mission, Power, Shipment, ShipmentStatus, Team, UserAccount
from tests.services import free_port, silent_server
from toolkit.config import Settings
from toolkit.errors import BackendUnavailableError, ConfigurationError, ValidationError
from toolkit.repositories.redis._connection import RedisClient
from toolkit.repositories.redis._sync_connection import SyncRedisClient
from toolkit.storage_dependencies import get_provider
from toolkit.sync_storage_dependencies import get_sync_provider

MACHINE_REDIS = "redis://127.0.0.1:6379/0"
"""The machine's own Redis: plain, without the JSON and Search modules."""


def redis_settings(url: str, **changes: Any) -> Settings:
    """Settings for the Redis backend at ``url`` under a key prefix no other test uses."""
    settings = Settings(
        backend="redis",
        redis_url=url,
        redis_key_prefix=f"t{uuid.uuid4().hex[:10]}",
        connect_timeout=3.0,
        command_timeout=10.0,
    )
    return settings.replace(**changes)


def raw_client(url: str) -> redis.Redis[str]:
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=10)


def keys_under(url: str, prefix: str) -> list[str]:
    client = raw_client(url)
    try:
        return sorted(client.scan_iter(match=f"{prefix}:*", count=1000))
    finally:
        client.close()


def database_size(url: str) -> int:
    client = raw_client(url)
    try:
        size: int = client.dbsize()
        return size
    finally:
        client.close()


def _lacks_the_modules(url: str) -> bool:
    """Whether a Redis answers at ``url`` and has neither RedisJSON nor RediSearch."""
    client = raw_client(url)
    try:
        modules = client.execute_command("MODULE", "LIST")
    except (redis.ConnectionError, redis.TimeoutError):
        return False
    finally:
        client.close()
    names = json.dumps(modules).lower()
    return "rejson" not in names and "search" not in names


@pytest.fixture(scope="module")
def plain_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis without modules: the machine's own, else a ``redis-server`` started here."""
    if _lacks_the_modules(MACHINE_REDIS):
        yield MACHINE_REDIS
        return
    with plain_redis_server(tmp_path_factory.mktemp("plain-redis")) as url:
        yield url


@pytest.fixture
def plain_settings(plain_redis_url: str) -> Settings:
    return redis_settings(plain_redis_url)


@pytest.fixture
def stack_settings(redis_url: str) -> Settings:
    return redis_settings(redis_url)


class plain_redis_server:
    """Start ``redis-server`` from PATH (no modules) on a free port; stop it on exit."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError(f"missing: a plain Redis at {MACHINE_REDIS} or redis-server on PATH")
        port = free_port()
        command = [
            server,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 20
        while not _lacks_the_modules(url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        return url

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def test_the_fallback_plain_server_starts_without_modules_and_stops(tmp_path: Path) -> None:
    with plain_redis_server(tmp_path) as url:
        assert url != MACHINE_REDIS
        assert _lacks_the_modules(url)
    assert not _lacks_the_modules(url)  # stopped: nothing answers there any more


# --- a Redis without the modules -----------------------------------------------------------------


def assert_names_both_modules(error: BackendUnavailableError, settings: Settings) -> None:
    message = str(error)
    assert "RedisJSON" in message
    assert "RediSearch" in message
    port = settings.redis_url.get_secret_value().rsplit(":", 1)[1].split("/")[0]
    assert f"127.0.0.1:{port}" in message


async def test_async_a_redis_without_the_modules_is_unavailable_and_nothing_is_written(
    plain_settings: Settings, plain_redis_url: str
) -> None:
    async with get_provider(settings=plain_settings) as provider:
        teams = provider.get_repository(Team)
        with pytest.raises(BackendUnavailableError) as caught:
            await teams.create(Team(name="Nowhere"))
        assert_names_both_modules(caught.value, plain_settings)
        with pytest.raises(BackendUnavailableError, match="RedisJSON and RediSearch"):
            await teams.create_many([Team(name="A"), Team(name="B")])
        with pytest.raises(BackendUnavailableError, match="RedisJSON and RediSearch"):
            await teams.list()
        with pytest.raises(BackendUnavailableError, match="RedisJSON and RediSearch"):
            await teams.get(1)
        with pytest.raises(BackendUnavailableError, match="RedisJSON and RediSearch"):
            await teams.delete(1)

    assert keys_under(plain_redis_url, plain_settings.redis_key_prefix) == []


def test_sync_a_redis_without_the_modules_is_unavailable_and_nothing_is_written(
    plain_settings: Settings, plain_redis_url: str
) -> None:
    with get_sync_provider(settings=plain_settings) as provider:
        teams = provider.get_repository(Team)
        with pytest.raises(BackendUnavailableError) as caught:
            teams.create(Team(name="Nowhere"))
        assert_names_both_modules(caught.value, plain_settings)
        with pytest.raises(BackendUnavailableError, match="RedisJSON and RediSearch"):
            teams.create_many([Team(name="A"), Team(name="B")])
        with pytest.raises(BackendUnavailableError, match="RedisJSON and RediSearch"):
            teams.list()
        with pytest.raises(BackendUnavailableError, match="RedisJSON and RediSearch"):
            teams.get(1)
        with pytest.raises(BackendUnavailableError, match="RedisJSON and RediSearch"):
            teams.delete(1)

    assert keys_under(plain_redis_url, plain_settings.redis_key_prefix) == []


# --- a server that never answers, a command that takes its time ----------------------------------


def silent_settings(port: int) -> Settings:
    """Settings for a server at ``port``: a 1 s connect timeout, the default command timeout."""
    return redis_settings(
        f"redis://127.0.0.1:{port}/0",
        connect_timeout=1.0,
        command_timeout=Settings().command_timeout,  # 30 s
    )


async def test_async_a_server_that_never_answers_is_unavailable_within_the_connect_timeout() -> (
    None
):
    with silent_server() as port:
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError) as caught:
            async with get_provider(settings=silent_settings(port)) as provider:
                await provider.get_repository(Team).list()
        elapsed = time.monotonic() - started

    assert f"Redis at 127.0.0.1:{port} is unavailable: " in str(caught.value)
    assert elapsed < 10  # the connect timeout (1 s) bounds it, not the command timeout (30 s)


def test_sync_a_server_that_never_answers_is_unavailable_within_the_connect_timeout() -> None:
    with silent_server() as port:
        started = time.monotonic()
        with (
            pytest.raises(BackendUnavailableError) as caught,
            get_sync_provider(settings=silent_settings(port)) as provider,
        ):
            provider.get_repository(Team).list()
        elapsed = time.monotonic() - started

    assert f"Redis at 127.0.0.1:{port} is unavailable: " in str(caught.value)
    assert elapsed < 10  # the connect timeout (1 s) bounds it, not the command timeout (30 s)


async def test_async_a_command_slower_than_the_connect_timeout_succeeds(
    stack_settings: Settings,
) -> None:
    # The toolkit's own client: a new connection (its handshake bounded by 0.2 s), then a
    # command the server answers after 0.5 s (BLPOP on an empty list waits out its timeout),
    # within the command timeout (10 s).
    settings = stack_settings.replace(connect_timeout=0.2)
    client = RedisClient(settings)
    try:
        started = time.monotonic()
        assert await client.command("BLPOP", f"{settings.redis_key_prefix}:empty", "0.5") is None
        assert time.monotonic() - started >= 0.5
        assert await client.command("PING") is True  # the same connection, still usable
    finally:
        await client.close()


def test_sync_a_command_slower_than_the_connect_timeout_succeeds(
    stack_settings: Settings,
) -> None:
    settings = stack_settings.replace(connect_timeout=0.2)
    client = SyncRedisClient(settings)
    try:
        started = time.monotonic()
        assert client.command("BLPOP", f"{settings.redis_key_prefix}:empty", "0.5") is None
        assert time.monotonic() - started >= 0.5
        assert client.command("PING") is True
    finally:
        client.close()


def _kill_clients(redis_url: str) -> int:
    """Close, from the server's side, every connection but this one (as a restart or an idle
    timeout does)."""
    admin: redis.Redis[str] = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return int(admin.execute_command("CLIENT", "KILL", "SKIPME", "yes", "TYPE", "normal"))
    finally:
        admin.close()


async def test_async_connections_the_server_closed_while_idle_are_replaced(
    stack_settings: Settings, redis_url: str
) -> None:
    async with get_provider("redis", settings=stack_settings) as provider:
        teams = provider.get_repository(Team)
        created = await teams.create(Team(name="kept"))
        assert created.id is not None
        assert _kill_clients(redis_url) >= 1
        await asyncio.sleep(0.1)  # idle meanwhile: the event loop sees the connection closed
        assert await teams.get(created.id) == created
        assert await teams.first(col(Team.name) == "kept") == created
        assert await teams.count() == 1


def test_sync_connections_the_server_closed_while_idle_are_replaced(
    stack_settings: Settings, redis_url: str
) -> None:
    with get_sync_provider("redis", settings=stack_settings) as provider:
        teams = provider.get_repository(Team)
        created = teams.create(Team(name="kept"))
        assert created.id is not None
        assert _kill_clients(redis_url) >= 1
        assert teams.get(created.id) == created
        assert teams.first(col(Team.name) == "kept") == created
        assert teams.count() == 1


# --- what no backend keeps exactly, refused before the first write ---------------------------


REDIS_REFUSED = [
    Gadget(label="nan", ratio=math.nan),
    Gadget(label="negative zero", ratio=-0.0),
    Gadget(label="nul \x00 in an indexed string"),
    Gadget(label="nul in another", note="a\x00b"),
]


def _good_gadgets() -> list[Gadget]:
    return [Gadget(label=f"good {n}", ratio=n / 3) for n in range(3)]


@pytest.mark.parametrize("bad", REDIS_REFUSED, ids=["nan", "negative-zero", "nul-key", "nul-note"])
async def test_async_a_value_redis_cannot_keep_in_the_middle_of_a_batch_writes_nothing(
    stack_settings: Settings, bad: Gadget
) -> None:
    async with get_provider(settings=stack_settings) as provider:
        gadgets = provider.get_repository(Gadget)
        good = _good_gadgets()
        with pytest.raises(ValidationError, match="item 2"):
            await gadgets.create_many([*good[:2], bad, good[2]])
        assert await gadgets.count() == 0
        stored = await gadgets.create_many(good)
        replacement = bad.model_copy(update={"id": stored[1].id})
        with pytest.raises(ValidationError, match="item 1"):
            await gadgets.update_many([stored[0], replacement, stored[2]])
        assert await gadgets.list() == stored


@pytest.mark.parametrize("bad", REDIS_REFUSED, ids=["nan", "negative-zero", "nul-key", "nul-note"])
def test_sync_a_value_redis_cannot_keep_in_the_middle_of_a_batch_writes_nothing(
    stack_settings: Settings, bad: Gadget
) -> None:
    with get_sync_provider(settings=stack_settings) as provider:
        gadgets = provider.get_repository(Gadget)
        good = _good_gadgets()
        with pytest.raises(ValidationError, match="item 2"):
            gadgets.create_many([*good[:2], bad, good[2]])
        assert gadgets.count() == 0
        stored = gadgets.create_many(good)
        replacement = bad.model_copy(update={"id": stored[1].id})
        with pytest.raises(ValidationError, match="item 1"):
            gadgets.update_many([stored[0], replacement, stored[2]])
        assert gadgets.list() == stored


# --- database 0 only -----------------------------------------------------------------------------


def other_databases(redis_url: str) -> list[str]:
    base = redis_url.rsplit("/", 1)[0]
    return [f"{base}/2", f"{base}/15", f"{base}/0?db=3", f"{base}?db=1"]


async def test_async_a_database_other_than_0_is_a_configuration_error(
    stack_settings: Settings, redis_url: str
) -> None:
    for url in other_databases(redis_url):
        with pytest.raises(ConfigurationError, match="RediSearch indexes database 0 only"):
            async with get_provider(settings=stack_settings.replace(redis_url=url)) as provider:
                await provider.get_repository(Team).create(Team(name="elsewhere"))

    assert keys_under(redis_url, stack_settings.redis_key_prefix) == []
    assert database_size(other_databases(redis_url)[0]) == 0


def test_sync_a_database_other_than_0_is_a_configuration_error(
    stack_settings: Settings, redis_url: str
) -> None:
    for url in other_databases(redis_url):
        elsewhere = stack_settings.replace(redis_url=url)
        with (
            pytest.raises(ConfigurationError, match="RediSearch indexes database 0 only"),
            get_sync_provider(settings=elsewhere) as provider,
        ):
            provider.get_repository(Team).create(Team(name="elsewhere"))

    assert keys_under(redis_url, stack_settings.redis_key_prefix) == []
    assert database_size(other_databases(redis_url)[0]) == 0


# --- the search index ----------------------------------------------------------------------------


def index_info(url: str, name: str) -> dict[str, Any]:
    """FT.INFO of index ``name`` as a dict (its reply is a flat list of names and values)."""
    client = raw_client(url)
    try:
        reply = client.execute_command("FT.INFO", name)
    finally:
        client.close()
    return _pairs(reply)


def _pairs(reply: Any) -> dict[str, Any]:
    if isinstance(reply, dict):
        return {str(key): value for key, value in reply.items()}
    items = list(reply)
    return {str(items[i]): items[i + 1] for i in range(0, len(items) - 1, 2)}


def indexed_fields(info: dict[str, Any]) -> dict[str, str]:
    """Attribute name -> type (TAG, NUMERIC, ...) of an index's schema."""
    fields: dict[str, str] = {}
    for attribute in info["attributes"]:
        described = _pairs(attribute)
        fields[str(described["attribute"])] = str(described["type"])
    return fields


def index_names(url: str) -> list[str]:
    client = raw_client(url)
    try:
        return [str(name) for name in client.execute_command("FT._LIST")]
    finally:
        client.close()


def physical_indexes(url: str, alias: str) -> list[str]:
    """The indexes built for ``alias`` (named ``<alias>:<digest of the schema>``)."""
    return [name for name in index_names(url) if name.startswith(f"{alias}:")]


def alias_target(url: str, alias: str) -> str:
    return str(index_info(url, alias)["index_name"])


def search(url: str, index: str, query: str) -> list[str]:
    """The keys of the documents ``query`` finds in ``index``."""
    client = raw_client(url)
    try:
        reply = client.execute_command(
            "FT.SEARCH", index, query, "NOCONTENT", "LIMIT", "0", "1000", "DIALECT", "2"
        )
    finally:
        client.close()
    if isinstance(reply, dict):  # RESP3
        return sorted(str(result["id"]) for result in reply["results"])
    return sorted(str(key) for key in reply[1:])  # RESP2: total, key, key, ...


async def test_each_model_has_its_search_index_after_first_use(
    stack_settings: Settings, redis_url: str
) -> None:
    prefix = stack_settings.redis_key_prefix
    assert not [name for name in index_names(redis_url) if name.startswith(f"{prefix}:")]

    async with get_provider(settings=stack_settings) as provider:
        hero = await provider.get_repository(Hero).create(Hero(name="Indexed", secret_name="s"))
        mission = await provider.get_repository(Mission).create(
            Mission(codename="Alpha", leader_id=hero.id)
        )
        account = await provider.get_repository(UserAccount).create(
            UserAccount(email="ada@example.com", display_name="Ada", age=36)
        )
        assert await provider.get_repository(Shipment).list() == []  # a read makes it too

    ours = sorted(name for name in index_names(redis_url) if name.startswith(f"{prefix}:"))
    assert len(ours) == 4
    for table in ("hero", "mission", "shipment", "useraccount"):
        alias = f"{prefix}:{table}:index"
        (physical,) = physical_indexes(redis_url, alias)
        assert alias_target(redis_url, alias) == physical

    # Every field the index can answer exactly: integers, datetimes and dates as NUMERIC;
    # strings, e-mail addresses, UUIDs, booleans and enums as TAG. Not floats, Decimals or JSON.
    expected = {
        "hero": {
            "id": "NUMERIC",
            "name": "TAG",
            "secret_name": "TAG",
            "age": "NUMERIC",
            "team_id": "NUMERIC",
        },
        "mission": {"id": "NUMERIC", "codename": "TAG", "leader_id": "NUMERIC"},
        "useraccount": {
            "email": "TAG",
            "display_name": "TAG",
            "age": "NUMERIC",
            "newsletter": "TAG",
            "id": "NUMERIC",
        },
        "shipment": {
            "id": "TAG",
            "tracking_code": "TAG",
            "pieces": "NUMERIC",
            "insured": "TAG",
            "status": "TAG",
            "shipped_at": "NUMERIC",
            "delivered_at": "NUMERIC",
            "expected_on": "NUMERIC",
            "recipient_note": "TAG",
            "attempts": "NUMERIC",
        },
    }
    for table, fields in expected.items():
        info = index_info(redis_url, f"{prefix}:{table}:index")
        assert indexed_fields(info) == fields, table
        definition = _pairs(info["index_definition"])
        assert definition["key_type"] == "JSON"
        assert list(definition["prefixes"]) == [f"{prefix}:{table}:"]

    # The index holds the documents, and compares as SQL does (strings case-sensitively).
    index = f"{prefix}:mission:index"
    assert search(redis_url, index, "@codename:{Alpha}") == [f"{prefix}:mission:{mission.id}"]
    assert search(redis_url, index, f"@leader_id:[{hero.id} {hero.id}]") == [
        f"{prefix}:mission:{mission.id}"
    ]
    assert search(redis_url, f"{prefix}:hero:index", "@name:{Indexed}") == [
        f"{prefix}:hero:{hero.id}"
    ]
    assert search(redis_url, f"{prefix}:hero:index", "@name:{indexed}") == []
    assert search(redis_url, f"{prefix}:useraccount:index", f"@id:[{account.id} {account.id}]") == [
        f"{prefix}:useraccount:{account.id}"
    ]


async def _create_teams(settings: Settings, *names: str) -> list[str]:
    async with get_provider(settings=settings) as provider:
        teams = provider.get_repository(Team)
        for name in names:
            await teams.create(Team(name=name))
        return [team.name for team in await teams.list()]


def _create_teams_sync(settings: Settings, *names: str) -> list[str]:
    with get_sync_provider(settings=settings) as provider:
        teams = provider.get_repository(Team)
        for name in names:
            teams.create(Team(name=name))
        return [team.name for team in teams.list()]


def test_index_creation_is_idempotent_across_clients(
    stack_settings: Settings, redis_url: str
) -> None:
    prefix = stack_settings.redis_key_prefix
    index = f"{prefix}:team:index"
    strict = stack_settings.replace(auto_create=False)

    # Each asyncio.run is an event loop with a Redis client of its own; the sync path has another.
    assert asyncio.run(_create_teams(stack_settings, "first")) == ["first"]
    assert asyncio.run(_create_teams(stack_settings, "second")) == ["first", "second"]
    assert _create_teams_sync(stack_settings, "third") == ["first", "second", "third"]

    assert len(physical_indexes(redis_url, index)) == 1
    assert len(search(redis_url, index, "*")) == 3
    # Clients that may not create it accept the index the others made, async and sync alike.
    assert asyncio.run(_create_teams(strict, "fourth"))[-1] == "fourth"
    assert _create_teams_sync(strict, "fifth")[-1] == "fifth"
    assert len(search(redis_url, index, "*")) == 5


def _count_teams(settings: Settings) -> int:
    """Teams counted by a new client (a new event loop), through the search index."""

    async def count() -> int:
        async with get_provider(settings=settings) as provider:
            return await provider.get_repository(Team).count(col(Team.name) != "")

    return asyncio.run(count())


def test_a_changed_model_is_served_only_once_its_new_index_is_complete(
    stack_settings: Settings, redis_url: str
) -> None:
    """The model's index is built beside the one in use, switched in once it holds every
    document, and the old one dropped (its documents kept)."""
    prefix = stack_settings.redis_key_prefix
    alias = f"{prefix}:team:index"
    rows = 20_000  # enough that a half-built index would answer with fewer
    with get_sync_provider(settings=stack_settings) as provider:
        provider.get_repository(Team).create_many(Team(name=f"team {i}") for i in range(rows))
    (current,) = physical_indexes(redis_url, alias)
    # As an older model left it: the alias on an index of another schema.
    client = raw_client(redis_url)
    try:
        client.execute_command(
            "FT.CREATE", f"{alias}:older", "ON", "JSON", "PREFIX", "1", f"{prefix}:team:",
            "SCHEMA", '$["id"]', "AS", "id", "NUMERIC",
        )  # fmt: skip
        client.execute_command("FT.ALIASUPDATE", alias, f"{alias}:older")
        client.execute_command("FT.DROPINDEX", current)
    finally:
        client.close()

    assert _count_teams(stack_settings) == rows

    assert physical_indexes(redis_url, alias) == [current]
    assert alias_target(redis_url, alias) == current
    assert len(search(redis_url, alias, "*")) == 1000  # the LIMIT of `search`: documents kept


def test_an_index_named_as_the_alias_is_replaced(stack_settings: Settings, redis_url: str) -> None:
    """An index by the alias's own name (as toolkits before aliases made) gives way to one
    built beside it; the documents stay."""
    prefix = stack_settings.redis_key_prefix
    alias = f"{prefix}:team:index"
    assert _create_teams_sync(stack_settings, "a", "b") == ["a", "b"]
    (current,) = physical_indexes(redis_url, alias)
    client = raw_client(redis_url)
    try:
        client.execute_command("FT.ALIASDEL", alias)
        client.execute_command("FT.DROPINDEX", current)
        client.execute_command(
            "FT.CREATE", alias, "ON", "JSON", "PREFIX", "1", f"{prefix}:team:",
            "SCHEMA", '$["id"]', "AS", "id", "NUMERIC",
        )  # fmt: skip
    finally:
        client.close()

    assert _count_teams(stack_settings) == 2

    assert alias not in index_names(redis_url)
    assert physical_indexes(redis_url, alias) == [current]
    assert alias_target(redis_url, alias) == current


@pytest.mark.parametrize("first", ["async", "sync"])
def test_an_index_made_by_one_path_satisfies_the_other_with_auto_create_off(
    stack_settings: Settings, redis_url: str, first: str
) -> None:
    strict = stack_settings.replace(auto_create=False)

    if first == "async":
        asyncio.run(_create_teams(stack_settings, "made async"))
        assert _create_teams_sync(strict, "then sync") == ["made async", "then sync"]
    else:
        _create_teams_sync(stack_settings, "made sync")
        assert asyncio.run(_create_teams(strict, "then async")) == ["made sync", "then async"]

    assert len(physical_indexes(redis_url, f"{stack_settings.redis_key_prefix}:team:index")) == 1


def test_clients_starting_at_once_create_the_index_once(
    stack_settings: Settings, redis_url: str
) -> None:
    workers = 8
    barrier = threading.Barrier(workers, timeout=30)
    failures: list[BaseException] = []

    async def use(index: int) -> None:
        async with get_provider(settings=stack_settings) as provider:
            barrier.wait()
            await provider.get_repository(Team).create(Team(name=f"team {index}"))

    def worker(index: int) -> None:
        try:
            if index % 2:
                asyncio.run(use(index))
            else:
                with get_sync_provider(settings=stack_settings) as provider:
                    barrier.wait()
                    provider.get_repository(Team).create(Team(name=f"team {index}"))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    index = f"{stack_settings.redis_key_prefix}:team:index"
    assert len(physical_indexes(redis_url, index)) == 1
    assert len(search(redis_url, index, "*")) == workers


async def test_async_without_auto_create_a_missing_index_is_unavailable(
    stack_settings: Settings, redis_url: str
) -> None:
    strict = stack_settings.replace(auto_create=False)
    prefix = strict.redis_key_prefix

    async with get_provider(settings=strict) as provider:
        teams = provider.get_repository(Team)
        with pytest.raises(BackendUnavailableError, match=f"{prefix}:team:index is missing"):
            await teams.create(Team(name="unindexed"))
        with pytest.raises(BackendUnavailableError, match=f"{prefix}:team:index"):
            await teams.list()

    assert f"{prefix}:team:index" not in index_names(redis_url)
    assert keys_under(redis_url, prefix) == []


def test_sync_without_auto_create_a_missing_index_is_unavailable(
    stack_settings: Settings, redis_url: str
) -> None:
    strict = stack_settings.replace(auto_create=False)
    prefix = strict.redis_key_prefix

    with get_sync_provider(settings=strict) as provider:
        teams = provider.get_repository(Team)
        with pytest.raises(BackendUnavailableError, match=f"{prefix}:team:index is missing"):
            teams.create(Team(name="unindexed"))
        with pytest.raises(BackendUnavailableError, match=f"{prefix}:team:index"):
            teams.list()

    assert f"{prefix}:team:index" not in index_names(redis_url)
    assert keys_under(redis_url, prefix) == []


# --- the stored documents ------------------------------------------------------------------------

SHIPPED_AT = datetime(2026, 3, 1, 23, 59, 58, 999999, tzinfo=timezone(timedelta(hours=-3)))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def shipment(id: uuid.UUID) -> Shipment:
    return Shipment(
        id=id,
        tracking_code="LAYOUT-1",
        pieces=2,
        weight_kg=1.25,
        insured=True,
        status=ShipmentStatus.IN_TRANSIT,
        declared_value=Decimal("1234567890.12"),
        customs_fee=None,
        shipped_at=SHIPPED_AT,
        expected_on=date(1969, 12, 30),
        labels=["fragile"],
        customs={"hs_code": "8471.30", "items": [{"qty": 2}]},
    )


def read_document(url: str, key: str) -> dict[str, Any]:
    client = raw_client(url)
    try:
        raw = client.execute_command("JSON.GET", key)
    finally:
        client.close()
    assert raw is not None, f"no document at {key}"
    document: dict[str, Any] = json.loads(raw)
    return document


def test_documents_are_laid_out_as_documented(stack_settings: Settings, redis_url: str) -> None:
    prefix = stack_settings.redis_key_prefix
    by_async, by_sync = uuid.uuid4(), uuid.uuid4()

    async def write_async() -> tuple[Hero, Mission, Power]:
        async with get_provider(settings=stack_settings) as provider:
            await provider.get_repository(Shipment).create(shipment(by_async))
            hero = await provider.get_repository(Hero).create(
                Hero(name="Laid out", secret_name="s")
            )
            mission = await provider.get_repository(Mission).create(
                Mission(codename="Layout", leader_id=hero.id)
            )
            power = await provider.get_repository(Power).create(
                Power(name="Flight", hero_id=hero.id or 0)
            )
            return hero, mission, power

    hero, mission, power = asyncio.run(write_async())
    with get_sync_provider(settings=stack_settings) as provider:
        provider.get_repository(Shipment).create(shipment(by_sync))

    document = read_document(redis_url, f"{prefix}:shipment:{by_async}")
    assert document["id"] == str(by_async)
    assert document["tracking_code"] == "LAYOUT-1"
    assert document["pieces"] == 2
    assert document["weight_kg"] == "1.25"  # floats as text: RedisJSON misprints some doubles
    assert document["insured"] is True
    assert document["status"] == "in_transit"
    # Integer microseconds since the epoch, UTC.
    micros = (SHIPPED_AT - EPOCH) // timedelta(microseconds=1)
    assert type(document["shipped_at"]) is int
    assert document["shipped_at"] == micros
    assert document["shipped_at"] % 1_000_000 == 999999
    assert "delivered_at" not in document  # a NULL is no field: the index finds it missing
    # Days since the epoch.
    assert document["expected_on"] == -2
    # Decimals as strings, every digit kept.
    assert document["declared_value"] == "1234567890.12"
    assert "customs_fee" not in document
    assert "recipient_note" not in document
    # JSON fields as JSON text: RedisJSON would turn integers beyond 64 bits into doubles.
    assert json.loads(document["labels"]) == ["fragile"]
    assert json.loads(document["customs"]) == {"hs_code": "8471.30", "items": [{"qty": 2}]}
    nulls = {"delivered_at", "customs_fee", "recipient_note", "attempts"}
    # No unique or foreign-key values: no __keys field (the write script reads none as empty).
    assert set(document) == set(Shipment.model_fields) - nulls
    # Written by the sync path: the same document.
    twin = read_document(redis_url, f"{prefix}:shipment:{by_sync}")
    assert {**twin, "id": str(by_async)} == document

    # Integer keys; relationship attributes are not stored.
    hero_document = read_document(redis_url, f"{prefix}:hero:{hero.id}")
    assert hero_document["id"] == hero.id
    assert "powers" not in hero_document
    mission_document = read_document(redis_url, f"{prefix}:mission:{mission.id}")
    assert mission_document["leader_id"] == hero.id
    # The tokens of its unique and foreign-key values, which the write script keeps them with.
    assert mission_document["__keys"]["f"] == {"leader_id": str(hero.id)}
    assert "leader" not in mission_document
    assert "hero" not in read_document(redis_url, f"{prefix}:power:{power.id}")

    # Every key is a document at <prefix>:<table>:<id>, or bookkeeping under <prefix>:__meta__:.
    documents = {key for key in keys_under(redis_url, prefix) if ":__meta__:" not in key}
    assert documents == {
        f"{prefix}:shipment:{by_async}",
        f"{prefix}:shipment:{by_sync}",
        f"{prefix}:hero:{hero.id}",
        f"{prefix}:mission:{mission.id}",
        f"{prefix}:power:{power.id}",
    }
    assert all(
        key.startswith(f"{prefix}:__meta__:")
        for key in set(keys_under(redis_url, prefix)) - documents
    )
