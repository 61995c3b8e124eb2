"""Units of work on Redis (``provider.transaction()``), proven against real servers.

A block's writes are kept until its end and applied there by one run of the write script, which
first checks that nothing the block read has changed since. These tests prove:

- that two blocks that read the same row and then write it do not both commit: one does, the
  other raises `ConflictError` and leaves nothing; and that a block fails when a table it
  queried, or read through a staged batch in progress, is written before its end;
- that a refusal by a late write of a block undoes the earlier ones, down to the last byte of
  every key (documents, unique hashes, ids, foreign-key sets), and that the search index finds
  the rows put back;
- that a server killed while it applies a block, a server restarted inside a block, and a
  block cancelled while it is applied leave all of the block or none of it;
- that ``list(load=[Wallet.owner])`` costs the server the same commands for 10 rows as for
  1,000;
- what a block sees: its own writes through ``get`` and key lookups; queries of a table it has
  written are refused; a nested block that fails drops its own writes only;
- that nested blocks opened by gathered tasks take turns: code outside an open nested block
  waits for its end, and is neither part of it nor undone with it; a task of an ended block
  writes on its own, even while the next block is open;
- as on SQL: a row given twice to ``update_many`` is checked at the version the first copy
  writes; a patch that changes nothing writes nothing; ``load=`` is checked with no row found.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis as redis_py
from redis import Redis as Server  # the server's view, besides the toolkit's

from models import Entry, Owner, Team, Wallet
from tests.redis_server import _binaries, _wait_until_ready
from tests.services import free_port
from toolkit.config import Settings
from toolkit.errors import (
    BackendUnavailableError,
    ConflictError,
    NotFoundError,
    StaleVersionError,
    UnsupportedQueryError,
    ValidationError,
)
from toolkit.repositories.providers import RepositoryProvider
from toolkit.repositories.redis._repository import RedisRepository
from toolkit.storage_dependencies import get_provider


@pytest.fixture
def backend() -> str:
    return "redis"


@pytest.fixture
async def provider(settings: Settings) -> AsyncIterator[RepositoryProvider]:
    async with get_provider("redis", settings=settings) as opened:
        yield opened


def key(id: int | None) -> int:
    """A stored row's id (stored rows have one)."""
    assert id is not None
    return id


def snapshot(settings: Settings) -> dict[str, bytes | None]:
    """Every key under the settings' prefix and its exact value (DUMP), but the key counters:
    keys a block took for its rows are not given back, as SQL's sequences are not."""
    raw: Server[bytes] = Server.from_url(settings.redis_url.get_secret_value())
    prefix = settings.redis_key_prefix
    try:
        return {
            found.decode(): raw.dump(found)
            for found in raw.scan_iter(f"{prefix}:*", count=1000)
            if not found.endswith(b":seq")
        }
    finally:
        raw.close()


# --- isolation ---------------------------------------------------------------------------------


async def test_two_blocks_that_read_and_write_one_row_do_not_both_commit(
    provider: RepositoryProvider,
) -> None:
    owners = provider.get_repository(Owner)
    wallets = provider.get_repository(Wallet)
    ada = await owners.create(Owner(full_name="Ada", email="ada@example.com"))
    read = {"first": asyncio.Event(), "second": asyncio.Event()}

    async def block(me: str, other: str) -> str:
        # Two tasks on one provider: each has a block of its own.
        async with provider.transaction():
            found = await owners.get_one(key(ada.id))
            read[me].set()
            await read[other].wait()  # both have read the row before either ends
            await owners.update(found.model_copy(update={"full_name": f"{found.full_name} {me}"}))
            await wallets.create(Wallet(label=me, owner_id=key(ada.id)))
        return me

    outcomes = await asyncio.gather(
        block("first", "second"), block("second", "first"), return_exceptions=True
    )

    winners = [outcome for outcome in outcomes if isinstance(outcome, str)]
    losers = [outcome for outcome in outcomes if not isinstance(outcome, str)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1, outcomes
    assert isinstance(losers[0], ConflictError), outcomes
    assert "changed" in str(losers[0])
    (winner,) = winners
    assert (await owners.get_one(key(ada.id))).full_name == f"Ada {winner}"
    assert [wallet.label for wallet in await wallets.list()] == [winner]


async def test_a_block_that_queried_a_table_fails_when_another_client_writes_it(
    provider: RepositoryProvider, settings: Settings
) -> None:
    owners = provider.get_repository(Owner)
    await owners.create(Owner(full_name="Ada", email="ada@example.com"))
    async with get_provider("redis", settings=settings) as other:

        async def block() -> None:
            async with provider.transaction():
                assert await owners.count() == 1
                await other.get_repository(Owner).create(
                    Owner(full_name="Bob", email="bob@example.com")
                )
                await owners.create(Owner(full_name="Cy", email="cy@example.com"))

        with pytest.raises(ConflictError, match="changed"):
            await block()
    assert sorted(owner.full_name for owner in await owners.list()) == ["Ada", "Bob"]


async def test_a_block_that_read_through_a_staged_batch_fails_when_the_batch_commits(
    provider: RepositoryProvider,
) -> None:
    teams = provider.get_repository(Team)
    assert isinstance(teams, RedisRepository)
    kept = await teams.create(Team(id=100, name="kept"))
    # A staged batch in progress, driven by hand: begun and staged, not yet committed.
    rows = [Team(id=n, name=f"staged {n}") for n in range(1, 4)]
    await teams._run("begin", batch="feedface")
    staged = teams._arguments(rows, creating=True)
    await teams._run("stage_create", *staged, instances=rows, batch="feedface")

    async def block() -> None:
        async with provider.transaction():
            assert await teams.get(1) is None  # the batch's rows are not seen before it commits
            assert await teams.get(100) == kept
            await teams.update(kept.model_copy(update={"name": "renamed"}))
            await teams._run("commit", batch="feedface")  # another client, meanwhile

    with pytest.raises(ConflictError, match="changed"):
        await block()
    while (await teams._run("finish", "1000", batch="feedface"))[0] != "done":
        pass
    names = [team.name for team in await teams.list()]
    assert names == ["staged 1", "staged 2", "staged 3", "kept"]


async def test_tasks_a_block_starts_are_part_of_it_and_others_are_not(
    provider: RepositoryProvider, settings: Settings
) -> None:
    owners = provider.get_repository(Owner)
    go, written = asyncio.Event(), asyncio.Event()

    async def outsider() -> None:  # started before the block: not part of it
        await go.wait()
        await owners.create(Owner(full_name="Out", email="out@example.com"))
        written.set()

    async def late() -> None:  # started by the block, writing after it has ended
        await written.wait()
        await owners.create(Owner(full_name="Late", email="late@example.com"))

    other = asyncio.create_task(outsider())
    async with provider.transaction():
        await asyncio.gather(
            owners.create(Owner(full_name="Ada", email="ada@example.com")),
            owners.create(Owner(full_name="Bob", email="bob@example.com")),
        )
        straggler = asyncio.create_task(late())
        go.set()
        await written.wait()
        # The outsider's row is written already; the block's are not.
        async with get_provider("redis", settings=settings) as elsewhere:
            listed = await elsewhere.get_repository(Owner).list()
        assert [owner.full_name for owner in listed] == ["Out"]
        with pytest.raises(UnsupportedQueryError):  # the block's tasks are the block
            await asyncio.create_task(owners.list())
    await other
    await straggler  # ran after the block: a call of its own, not lost in the ended block
    names = sorted(owner.full_name for owner in await owners.list())
    assert names == ["Ada", "Bob", "Late", "Out"]


# --- refusals undo everything ------------------------------------------------------------------


async def test_a_refusal_by_a_later_write_leaves_nothing_of_the_earlier_ones(
    provider: RepositoryProvider, settings: Settings
) -> None:
    owners = provider.get_repository(Owner)
    wallets = provider.get_repository(Wallet)
    entries = provider.get_repository(Entry)
    ada = await owners.create(Owner(full_name="Ada", email="ada@example.com"))
    kept = await wallets.create(Wallet(label="kept", owner_id=key(ada.id), balance=5))
    gone = await wallets.create(Wallet(label="gone", owner_id=key(ada.id)))
    await entries.create(Entry(amount=1, wallet_id=key(gone.id)))
    before = snapshot(settings)
    kinds = (":owner:", ":wallet:", ":entry:", ":ids", ":unique:email", ":fk:owner_id:")
    assert all(any(kind in name for name in before) for kind in kinds), sorted(before)

    async def block() -> None:
        async with provider.transaction():
            bob = await owners.create(Owner(full_name="Bob", email="bob@example.com"))
            await wallets.create(Wallet(label="bob's", owner_id=key(bob.id)))
            await wallets.update(kept.model_copy(update={"label": "moved", "owner_id": bob.id}))
            await owners.update(ada.model_copy(update={"email": "ada@new.example.com"}))
            await wallets.delete(key(gone.id))  # cascades to its entry
            await wallets.patch(key(kept.id), {"note": "patched"})
            await owners.create(Owner(full_name="Eve", email="bob@example.com"))  # refused

    with pytest.raises(ConflictError, match="email"):
        await block()
    assert snapshot(settings) == before
    # The documents put back are indexed again: the index finds them by their old values.
    assert await owners.list(Owner.email == "ada@example.com") == [ada]
    assert [w.label for w in await wallets.list(Wallet.owner_id == key(ada.id))] == [
        "kept",
        "gone",
    ]
    assert await entries.count(Entry.wallet_id == key(gone.id)) == 1
    assert await wallets.get(key(kept.id)) == kept


async def test_a_stale_version_in_a_block_is_raised_at_its_end_with_nothing_written(
    provider: RepositoryProvider, settings: Settings
) -> None:
    owners = provider.get_repository(Owner)
    wallets = provider.get_repository(Wallet)
    ada = await owners.create(Owner(full_name="Ada", email="ada@example.com"))
    wallet = await wallets.create(Wallet(label="w", owner_id=key(ada.id)))
    assert wallet.version == 1
    await wallets.update(wallet.model_copy(update={"balance": 1}))  # now at version 2
    before = snapshot(settings)

    async def block() -> None:
        async with provider.transaction():
            await owners.create(Owner(full_name="Bob", email="bob@example.com"))
            await wallets.update(wallet.model_copy(update={"balance": 99}))  # at version 1

    with pytest.raises(StaleVersionError) as raised:
        await block()

    assert (raised.value.expected, raised.value.current) == (1, 2)
    assert snapshot(settings) == before


# --- what a block sees -------------------------------------------------------------------------


async def test_a_block_sees_its_own_writes_by_key(provider: RepositoryProvider) -> None:
    owners = provider.get_repository(Owner)
    wallets = provider.get_repository(Wallet)
    async with provider.transaction():
        ada = await owners.create(Owner(full_name="Ada", email="ada@example.com"))
        assert ada.id is not None  # a generated key, taken at the call
        wallet = await wallets.create(Wallet(label="w", owner_id=ada.id))
        assert await owners.get(ada.id) == ada
        assert await wallets.get_one(key(wallet.id), load=[Wallet.owner]) == wallet
        assert (await wallets.get_one(key(wallet.id), load=[Wallet.owner])).owner == ada
        renamed = await owners.patch(ada.id, {"full_name": "Ada L."})
        assert await owners.list(Owner.id.in_([ada.id, 999])) == [renamed]  # type: ignore[union-attr]
        assert await owners.count(Owner.id == ada.id) == 1
        assert await owners.delete(ada.id)
        assert await owners.get(ada.id) is None
        assert not await owners.delete(ada.id)
    assert await owners.list() == []
    assert await wallets.list() == []


async def test_a_query_of_a_table_the_block_has_written_is_refused(
    provider: RepositoryProvider,
) -> None:
    owners = provider.get_repository(Owner)
    wallets = provider.get_repository(Wallet)
    ada = await owners.create(Owner(full_name="Ada", email="ada@example.com"))
    async with provider.transaction():
        assert await wallets.list() == []  # before writing: the committed rows
        await wallets.create(Wallet(label="w", owner_id=key(ada.id)))
        for query in (
            wallets.list(),
            wallets.list(Wallet.label == "w"),
            wallets.first(),
            wallets.count(),
            wallets.exists(Wallet.balance > 0),
            wallets.page(),
            wallets.delete_where(Wallet.label == "w"),
            owners.get(key(ada.id), load=[Owner.wallets]),
        ):
            with pytest.raises(UnsupportedQueryError, match="would not see them"):
                await query
        assert await owners.list() == [ada]  # a table it has not written
    assert len(await wallets.list()) == 1


async def test_rows_a_delete_of_the_block_may_cascade_to_are_not_read(
    provider: RepositoryProvider,
) -> None:
    owners = provider.get_repository(Owner)
    wallets = provider.get_repository(Wallet)
    ada = await owners.create(Owner(full_name="Ada", email="ada@example.com"))
    wallet = await wallets.create(Wallet(label="w", owner_id=key(ada.id)))
    async with provider.transaction():
        assert await owners.delete(key(ada.id))
        with pytest.raises(UnsupportedQueryError, match="ON DELETE"):
            await wallets.get(key(wallet.id))
    assert await wallets.get(key(wallet.id)) is None


async def test_a_failed_nested_block_drops_its_own_writes_only(
    provider: RepositoryProvider,
) -> None:
    owners = provider.get_repository(Owner)

    async def failing(ada: Owner) -> None:
        async with provider.transaction():
            await owners.update(ada.model_copy(update={"full_name": "Changed"}))
            await owners.create(Owner(full_name="Bob", email="bob@example.com"))
            raise RuntimeError("inner")

    async def refused() -> None:
        async with provider.transaction():
            await owners.create(Owner(full_name="Copy", email="ada@example.com"))

    async with provider.transaction():
        ada = await owners.create(Owner(full_name="Ada", email="ada@example.com"))
        with pytest.raises(RuntimeError):
            await failing(ada)
        assert await owners.get(key(ada.id)) == ada  # the inner block's update is gone
        with pytest.raises(ConflictError, match="email"):  # refused at the inner block's end
            await refused()
        async with provider.transaction():
            cy = await owners.create(Owner(full_name="Cy", email="cy@example.com"))
    assert await owners.list() == [ada, cy]


async def test_gathered_nested_blocks_commit_each_and_a_failed_one_drops_only_its_own_row(
    provider: RepositoryProvider,
) -> None:
    owners = provider.get_repository(Owner)

    async def one(number: int, *, fails: bool = False) -> None:
        async with provider.transaction():
            await owners.create(Owner(full_name=f"N{number}", email=f"n{number}@example.com"))
            await asyncio.sleep(0)  # the others try to run meanwhile
            await owners.get(1)
            if fails:
                raise RuntimeError("this one fails")

    async with provider.transaction():
        await asyncio.gather(*(one(number) for number in range(20)))
    assert await owners.count() == 20

    async with provider.transaction():
        outcomes = await asyncio.gather(
            *(one(number, fails=number == 27) for number in range(20, 40)),
            return_exceptions=True,
        )
    assert [type(outcome) for outcome in outcomes if outcome is not None] == [RuntimeError]
    names = {owner.full_name for owner in await owners.list()}
    assert names == {f"N{number}" for number in range(40) if number != 27}


async def test_calls_outside_an_open_nested_block_wait_for_its_end_and_are_not_undone_by_it(
    provider: RepositoryProvider,
) -> None:
    owners = provider.get_repository(Owner)
    opened, events = asyncio.Event(), []

    async def failing() -> None:
        async with provider.transaction():
            await owners.create(Owner(full_name="Inner", email="inner@example.com"))
            opened.set()
            for _ in range(20):  # the sibling's call would run meanwhile if it could
                await asyncio.sleep(0)
            events.append("nested block ends")
            raise RuntimeError("the nested block fails")

    async def nested() -> None:
        with pytest.raises(RuntimeError):
            await failing()

    async def sibling() -> None:  # in the outer block, not in the nested one
        await opened.wait()
        await owners.create(Owner(full_name="Sibling", email="sibling@example.com"))
        events.append("sibling wrote")
        async with provider.transaction():  # a nested block of its own, after the other's end
            await owners.create(Owner(full_name="Next", email="next@example.com"))

    async with provider.transaction():
        await asyncio.gather(nested(), sibling())
    assert events == ["nested block ends", "sibling wrote"]
    assert sorted(owner.full_name for owner in await owners.list()) == ["Next", "Sibling"]


async def test_a_task_of_an_ended_block_writes_on_its_own_while_the_next_block_is_open(
    provider: RepositoryProvider, settings: Settings
) -> None:
    owners = provider.get_repository(Owner)
    second_open, written = asyncio.Event(), asyncio.Event()

    async def straggler() -> None:  # started by the first block, writing during the second
        await second_open.wait()
        await owners.create(Owner(full_name="Stray", email="stray@example.com"))
        written.set()

    async def second() -> None:
        async with provider.transaction():
            await owners.create(Owner(full_name="Second", email="second@example.com"))
            second_open.set()
            await written.wait()
            async with get_provider("redis", settings=settings) as elsewhere:
                listed = await elsewhere.get_repository(Owner).list()
            assert [owner.full_name for owner in listed] == ["Stray"]  # written already
            raise RuntimeError("the second block fails")

    async with provider.transaction():
        task = asyncio.create_task(straggler())
    with pytest.raises(RuntimeError):
        await second()
    await task
    assert [owner.full_name for owner in await owners.list()] == ["Stray"]


# --- versions, patches, load= (as on SQL) ------------------------------------------------------


async def test_one_row_twice_in_update_many_is_checked_at_the_version_the_first_writes(
    provider: RepositoryProvider,
) -> None:
    owners, wallets = provider.get_repository(Owner), provider.get_repository(Wallet)
    ada = await owners.create(Owner(full_name="Ada", email="ada@example.com"))
    wallet = await wallets.create(Wallet(label="w", owner_id=key(ada.id)))
    first, second = (wallet.model_copy(update={"balance": n}) for n in (1, 2))
    with pytest.raises(StaleVersionError) as raised:
        await wallets.update_many([first, second])
    assert (raised.value.expected, raised.value.current) == (1, 2)
    assert await wallets.get_one(key(wallet.id)) == wallet  # nothing written
    with pytest.raises(StaleVersionError):
        async with provider.transaction():
            await wallets.update_many([first, second])
    assert await wallets.get_one(key(wallet.id)) == wallet
    # At the versions each write leaves, both are written, in order.
    again = await wallets.update_many([first, second.model_copy(update={"version": 2})])
    assert [row.version for row in again] == [2, 3]
    assert (await wallets.get_one(key(wallet.id))).balance == 2
    # Without versions the last write of a row wins; a row created twice is a conflict.
    bob = await owners.create(Owner(full_name="Bob", email="bob@example.com"))
    renamed = [bob.model_copy(update={"full_name": name}) for name in ("B1", "B2")]
    assert await owners.update_many(renamed) == renamed
    assert (await owners.get_one(key(bob.id))).full_name == "B2"
    twice = [Owner(id=99, full_name="Cy", email=f"cy{n}@example.com") for n in (1, 2)]
    with pytest.raises(ConflictError):
        await owners.create_many(twice)
    assert await owners.get(99) is None


async def test_a_patch_that_changes_nothing_writes_nothing(provider: RepositoryProvider) -> None:
    owners, wallets = provider.get_repository(Owner), provider.get_repository(Wallet)
    ada = await owners.create(Owner(full_name="Ada", email="ada@example.com"))
    wallet = await wallets.create(Wallet(label="w", owner_id=key(ada.id)))
    for changes in ({}, {"version": 1}):
        assert await wallets.patch(key(wallet.id), changes) == wallet
        async with provider.transaction():
            assert await wallets.patch(key(wallet.id), changes) == wallet
    assert await wallets.get_one(key(wallet.id)) == wallet  # still at version 1
    with pytest.raises(StaleVersionError):
        await wallets.patch(key(wallet.id), {"version": 2})
    with pytest.raises(NotFoundError):
        await wallets.patch(12345, {})


async def test_load_is_checked_when_no_row_is_found(provider: RepositoryProvider) -> None:
    owners = provider.get_repository(Owner)
    not_a_relationship: Any = Owner.full_name
    with pytest.raises(ValidationError):
        await owners.get(12345, load=[not_a_relationship])
    with pytest.raises(ValidationError):
        await owners.get_one(12345, load=[not_a_relationship])
    with pytest.raises(ValidationError):
        await owners.first(Owner.full_name == "nobody", load=[not_a_relationship])
    async with provider.transaction():
        with pytest.raises(ValidationError):
            await owners.get(12345, load=[not_a_relationship])


async def test_an_exception_in_a_block_writes_nothing(provider: RepositoryProvider) -> None:
    owners = provider.get_repository(Owner)

    async def block() -> None:
        async with provider.transaction():
            await owners.create(Owner(full_name="Ada", email="ada@example.com"))
            _ = 1 / 0

    with pytest.raises(ZeroDivisionError):
        await block()
    assert await owners.list() == []
    async with provider.transaction():  # the provider goes on
        ada = await owners.create(Owner(full_name="Ada", email="ada@example.com"))
    assert await owners.list() == [ada]


# --- servers that fail -------------------------------------------------------------------------


@dataclass
class OwnServer:
    """A Redis with JSON and Search that keeps every write on disk (appendfsync always), and
    that a test can kill and start again on the same port and data."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary, rejson, search = _binaries()
        command = [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--dir", str(self.directory),
            "--logfile", str(self.directory / "redis.log"),
            "--loadmodule", rejson,
            "--loadmodule", search,
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        _wait_until_ready(self.url, self.process, self.directory / "redis.log")

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)

    def busy(self, done: asyncio.Task[Any]) -> bool:
        """Wait until the server is running a long command (it stops answering a PING within
        50 ms), or ``done`` has finished; whether it was seen busy."""
        probe: Server[bytes] = Server.from_url(self.url, socket_timeout=0.05)
        try:
            while not done.done():
                try:
                    probe.ping()
                except redis_py.TimeoutError:
                    return True
        finally:
            probe.close()
        return False


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[OwnServer]:
    started = OwnServer(tmp_path, free_port())
    started.start()
    try:
        yield started
    finally:
        started.stop()


def own_settings(settings: Settings, own: OwnServer) -> Settings:
    return settings.replace(redis_url=own.url, redis_key_prefix=f"u{uuid.uuid4().hex[:8]}")


BIG = 30_000  # rows a block writes, enough for the server to take a while over its end


def counts(own: OwnServer, prefix: str) -> tuple[int, int, int]:
    """Owner documents, ids and unique emails on the server."""
    client: Server[str] = Server.from_url(own.url, decode_responses=True)
    try:
        documents = sum(1 for _ in client.scan_iter(f"{prefix}:owner:*", count=5000))
        ids = client.zcard(f"{prefix}:__meta__:owner:ids")
        emails = client.hlen(f"{prefix}:__meta__:owner:unique:email")
        return documents, int(ids), int(emails)
    finally:
        client.close()


async def test_a_server_killed_while_it_applies_a_block_keeps_all_of_it_or_none(
    settings: Settings, own_server: OwnServer
) -> None:
    chosen = own_settings(settings, own_server)
    async with get_provider("redis", settings=chosen) as provider:
        owners = provider.get_repository(Owner)
        await owners.create(Owner(full_name="before", email="before@example.com"))

        async def block() -> None:
            async with provider.transaction():
                await owners.create_many(
                    Owner(full_name=f"o{i}", email=f"o{i}@example.com") for i in range(BIG)
                )

        task = asyncio.create_task(block())
        seen_busy = await asyncio.to_thread(own_server.busy, task)
        assert seen_busy, "the block ended before the server could be killed"
        own_server.kill()
        with pytest.raises(BackendUnavailableError):
            await task

    own_server.start()
    documents, ids, emails = counts(own_server, chosen.redis_key_prefix)
    assert (documents, ids, emails) in ((1, 1, 1), (BIG + 1, BIG + 1, BIG + 1))


async def test_a_server_restarted_inside_a_block_leaves_all_of_it_or_none(
    settings: Settings, own_server: OwnServer
) -> None:
    chosen = own_settings(settings, own_server)
    async with get_provider("redis", settings=chosen) as provider:
        owners = provider.get_repository(Owner)
        wallets = provider.get_repository(Wallet)
        ada = await owners.create(Owner(full_name="Ada", email="ada@example.com"))
        try:
            async with provider.transaction():
                found = await owners.get_one(key(ada.id))
                await owners.update(found.model_copy(update={"full_name": "Ada L."}))
                await wallets.create(Wallet(label="w", owner_id=key(ada.id)))
                own_server.stop()
                own_server.start()
                await owners.create(Owner(full_name="Bob", email="bob@example.com"))
        except BackendUnavailableError:
            applied = False
        else:
            applied = True  # the block's end found the server back, and what it read unchanged

    async with get_provider("redis", settings=chosen) as provider:
        owners = provider.get_repository(Owner)
        names = sorted(owner.full_name for owner in await owners.list())
        labels = [wallet.label for wallet in await provider.get_repository(Wallet).list()]
    if applied:
        assert (names, labels) == (["Ada L.", "Bob"], ["w"])
    else:
        assert (names, labels) == (["Ada"], [])


async def test_a_block_cancelled_while_it_is_applied_leaves_all_of_it_or_none(
    settings: Settings, own_server: OwnServer
) -> None:
    chosen = own_settings(settings, own_server)
    async with get_provider("redis", settings=chosen) as provider:
        owners = provider.get_repository(Owner)
        await owners.create(Owner(full_name="before", email="before@example.com"))

        async def block() -> None:
            async with provider.transaction():
                await owners.create_many(
                    Owner(full_name=f"o{i}", email=f"o{i}@example.com") for i in range(BIG)
                )

        task = asyncio.create_task(block())
        assert await asyncio.to_thread(own_server.busy, task)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The provider goes on, in a block of its own.
        async with provider.transaction():
            after = await owners.create(Owner(full_name="after", email="after@example.com"))
        assert await owners.get(key(after.id)) == after

    documents, ids, emails = counts(own_server, chosen.redis_key_prefix)
    assert (documents, ids, emails) in ((2, 2, 2), (BIG + 2, BIG + 2, BIG + 2))


# --- what relationships cost -------------------------------------------------------------------


def commands(client: Server[str]) -> int:
    """The commands the server has run, but INFO (the probe's own)."""
    stats = client.info("commandstats")
    return sum(int(entry["calls"]) for name, entry in stats.items() if name != "cmdstat_info")


async def spent_listing(settings: Settings, own: OwnServer, rows: int) -> int:
    """The commands the server runs for ``list(load=[Wallet.owner])`` over ``rows`` wallets,
    each of another owner."""
    chosen = own_settings(settings, own)
    probe: Server[str] = Server.from_url(own.url, decode_responses=True)
    try:
        async with get_provider("redis", settings=chosen) as provider:
            owners = provider.get_repository(Owner)
            wallets = provider.get_repository(Wallet)
            made = await owners.create_many(
                Owner(full_name=f"o{i}", email=f"o{i}@example.com") for i in range(rows)
            )
            await wallets.create_many(
                Wallet(label=f"w{i}", owner_id=key(owner.id)) for i, owner in enumerate(made)
            )
            await wallets.list(load=[Wallet.owner])  # indexes known, connections open

            before = commands(probe)
            found = await wallets.list(load=[Wallet.owner])
            spent = commands(probe) - before
    finally:
        probe.close()
    assert len(found) == rows
    assert all(wallet.owner == made[i] for i, wallet in enumerate(found))
    return spent


async def test_list_with_load_costs_the_same_commands_for_10_rows_and_for_1000(
    settings: Settings, own_server: OwnServer
) -> None:
    few = await spent_listing(settings, own_server, 10)
    many = await spent_listing(settings, own_server, 1_000)
    assert few == many, (few, many)
    # The wallets' ids, their documents, then their owners' documents by key, each read in
    # one transaction with the table's gate: MULTI, EXISTS, (ZRANGE | JSON.MGET), EXEC.
    assert many == 9, many


async def test_a_key_generated_in_a_block_skips_the_keys_the_block_gives_explicitly(
    provider: RepositoryProvider,
) -> None:
    teams = provider.get_repository(Team)
    base = key((await teams.create(Team(name="base"))).id)

    async with provider.transaction():
        explicit = await teams.create(Team(id=base + 1, name="explicit"))
        generated = await teams.create(Team(name="generated"))
        batch = await teams.create_many(
            [Team(name="a"), Team(id=base + 4, name="given"), Team(name="b")]
        )

    ids = [key(explicit.id), key(generated.id), *(key(team.id) for team in batch)]
    assert len(set(ids)) == 5
    assert ids[0] == base + 1
    assert ids[3] == base + 4
    assert sorted(key(team.id) for team in await teams.list()) == sorted([base, *ids])
