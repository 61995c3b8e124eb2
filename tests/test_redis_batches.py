"""Big Redis batches: staged in short script runs, and still all or nothing.

A `create_many`, `update_many` or `delete_many` of more than `CHUNK` rows is written in runs of
`CHUNK` rows (so that no other client of the server waits long), then committed in one short
run. These tests prove, on real Redis:

- that no command of a 100,000-row batch holds the server for 250 ms (the server's slow log);
- that a batch refused in its last chunk leaves nothing written, whatever it was (a conflict, a
  missing row, a RESTRICT), and no bookkeeping behind;
- that ON DELETE CASCADE and SET NULL reach as far in a staged delete as in one run;
- that a batch whose client died part-way is never seen, locks its rows, and is rolled back by
  the next reader or batch that meets it once its lease has run out.

That readers never see a batch in part is `tests/test_redis_batch_isolation.py`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date

import pytest
from redis import Redis as Server  # the server's view, besides the toolkit's
from sqlmodel import col

from models import Hero, Incident, Mission, Power, Sidekick, Team
from toolkit.config import Settings
from toolkit.errors import ConflictError, ConstraintError, NotFoundError
from toolkit.repositories.redis._repository import RedisRepository
from toolkit.storage_dependencies import get_provider

BIG = 100_000
SMALL_CHUNK = 10


@pytest.fixture
def redis_settings(settings: Settings) -> Settings:
    return settings


@pytest.fixture
def backend() -> str:
    return "redis"


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Batches of over `SMALL_CHUNK` rows are staged: a few rows show every step."""
    monkeypatch.setattr(sys.modules[RedisRepository.__module__], "CHUNK", SMALL_CHUNK)
    return SMALL_CHUNK


@pytest.fixture
def server(redis_settings: Settings) -> Iterator[Server[str]]:
    client: Server[str] = Server.from_url(
        redis_settings.redis_url.get_secret_value(), decode_responses=True
    )
    try:
        yield client
    finally:
        client.close()


def key(id: int | None) -> int:
    """A stored row's id (stored rows have one)."""
    assert id is not None
    return id


def leftovers(server: Server[str], prefix: str) -> list[str]:
    """The keys a staged batch keeps while in progress: none once it has ended."""
    return sorted(
        key
        for pattern in (f"{prefix}:__meta__:*:gate", f"{prefix}:__meta__:*:batch:*")
        for key in server.scan_iter(pattern)
    )


async def test_a_big_batch_never_holds_the_server(
    redis_settings: Settings, server: Server[str]
) -> None:
    server.config_set("slowlog-log-slower-than", 250_000)  # microseconds
    server.slowlog_reset()
    async with get_provider("redis", settings=redis_settings) as provider:
        teams = provider.get_repository(Team)
        created = await teams.create_many(Team(name=f"team {n}") for n in range(BIG))
        assert await teams.count() == BIG
        for team in created:
            team.headquarters = "moved"
        await teams.update_many(created)
        assert await teams.count(col(Team.headquarters) == "moved") == BIG
        assert await teams.delete_many(key(team.id) for team in created) == BIG
        assert await teams.count() == 0
    assert server.slowlog_get(10) == []
    assert leftovers(server, redis_settings.redis_key_prefix) == []


@pytest.mark.usefixtures("small_chunks")
async def test_a_batch_refused_in_its_last_chunk_writes_nothing(
    redis_settings: Settings, server: Server[str]
) -> None:
    async with get_provider("redis", settings=redis_settings) as provider:
        teams = provider.get_repository(Team)
        heroes = provider.get_repository(Hero)

        names = [f"team {n}" for n in range(50)]
        names[45] = names[3]
        with pytest.raises(ConflictError, match=r"item 45"):
            await teams.create_many(Team(name=name) for name in names)
        assert await teams.count() == 0

        created = await teams.create_many(Team(name=f"team {n}") for n in range(50))
        changed = [team.model_copy(update={"headquarters": "moved"}) for team in created]
        changed[45].name = "team 3"
        with pytest.raises(ConflictError, match=r"item 45"):
            await teams.update_many(changed)
        changed[45] = Team(id=10**9, name="nobody")
        with pytest.raises(NotFoundError):
            await teams.update_many(changed)
        assert await teams.list() == created

        await heroes.create(Hero(name="member", secret_name="m", team_id=created[-1].id))
        with pytest.raises(ConstraintError):
            await teams.delete_many(key(team.id) for team in created)
        assert await teams.list() == created
    assert leftovers(server, redis_settings.redis_key_prefix) == []


@pytest.mark.usefixtures("small_chunks")
async def test_a_staged_delete_cascades_and_sets_null_as_one_run_does(
    redis_settings: Settings, server: Server[str]
) -> None:
    async with get_provider("redis", settings=redis_settings) as provider:
        heroes = provider.get_repository(Hero)
        powers = provider.get_repository(Power)
        missions = provider.get_repository(Mission)
        sidekicks = provider.get_repository(Sidekick)
        incidents = provider.get_repository(Incident)
        hero_rows = await heroes.create_many(
            Hero(name=f"hero {n}", secret_name=f"s{n}") for n in range(30)
        )
        ids = [key(hero.id) for hero in hero_rows]
        power_rows = await powers.create_many(Power(name="flight", hero_id=id) for id in ids)
        mission_rows = await missions.create_many(
            Mission(codename=f"op {n}", leader_id=id) for n, id in enumerate(ids)
        )
        await sidekicks.create_many(
            Sidekick(name=f"kid {n}", mentor_id=id) for n, id in enumerate(ids)
        )

        # Refused at the last hero: an incident holds on to its power. Nothing changes.
        incident = await incidents.create(
            Incident(
                reported_on=date(2026, 1, 1),
                summary="held",
                power_id=key(power_rows[-1].id),
                mission_id=mission_rows[0].id,
            )
        )
        with pytest.raises(ConstraintError):
            await heroes.delete_many(ids)
        assert await heroes.count() == 30
        assert await powers.count() == 30
        assert await missions.count(col(Mission.leader_id).is_(None)) == 0
        assert await sidekicks.count(col(Sidekick.mentor_id).is_(None)) == 0

        await incidents.delete(key(incident.id))
        assert await heroes.delete_many(ids) == 30
        assert await heroes.count() == 0
        assert await powers.count() == 0
        assert await missions.count(col(Mission.leader_id).is_(None)) == 30
        assert await sidekicks.count(col(Sidekick.mentor_id).is_(None)) == 30
        # The unique mentor values are free again, and the missions are writable.
        await sidekicks.create(Sidekick(name="new", mentor_id=None))
        assert await missions.update(mission_rows[0].model_copy(update={"leader_id": None}))
    assert leftovers(server, redis_settings.redis_key_prefix) == []


@pytest.mark.usefixtures("small_chunks")
async def test_a_batch_left_part_way_is_unseen_and_rolled_back_after_its_lease(
    redis_settings: Settings, server: Server[str]
) -> None:
    async with get_provider("redis", settings=redis_settings) as provider:
        teams = provider.get_repository(Team)
        assert isinstance(teams, RedisRepository)
        repository = teams
        # A client that staged one chunk and died: begun, staged, never committed.
        rows = [Team(id=n, name=f"left {n}") for n in range(1, 6)]
        arguments = repository._arguments(rows, creating=True)
        await repository._run("begin", batch="deadbeef")
        await repository._run("stage_create", *arguments, instances=rows, batch="deadbeef")

        assert await teams.count() == 0
        assert await teams.get(1) is None
        assert await teams.list(col(Team.name) == "left 1") == []
        with pytest.raises(ConflictError, match="batch in progress"):
            await teams.create(Team(id=1, name="taken?"))

        # Its lease runs out: the next reader that meets it rolls it back.
        gate = f"{redis_settings.redis_key_prefix}:__meta__:team:gate"
        server.hset(gate, "deadbeef", "pending 0")
        assert await teams.count() == 0
        assert leftovers(server, redis_settings.redis_key_prefix) == []
        assert await teams.create(Team(id=1, name="free again"))

        # Another one: the next big batch rolls it back before it starts.
        await repository._run("begin", batch="cafebabe")
        await repository._run("stage_create", *arguments[3:], instances=rows[1:], batch="cafebabe")
        server.hset(gate, "cafebabe", "pending 0")
        await teams.create_many(Team(id=100 + n, name=f"next {n}") for n in range(20))
        assert await teams.count() == 21
    assert leftovers(server, redis_settings.redis_key_prefix) == []
