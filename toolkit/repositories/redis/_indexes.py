"""A model's documents and search index on the server, made current before the model's first
command, and the check that the server has the modules the backend needs.

The index is built beside the one queries use, complete before it serves, then put in its place
by switching the alias queries name (``<prefix>:<table>:index``); the old one is dropped.
Physical indexes are named ``<alias>:<digest of the schema>``, so that processes that agree on
the model agree on the index, and a changed model builds a new one.

A field the model adds is filled in with its default in the documents stored before, once, so
that they read, and the index finds them, as if written with it (`stored_changes` says which
fields are filled, and which changes are refused). The table's ``fields`` set records the
fields its documents have been given; it only grows, so that a process still on the earlier
model cannot make a later one fill a field twice (a NULL written in between would become the
default). One process migrates a table at a time, holding its ``migrating`` lock; the others
wait for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from redis.exceptions import NoScriptError, RedisError, ResponseError

from toolkit.errors import BackendUnavailableError, ConfigurationError
from toolkit.repositories.redis._documents import RedisTable
from toolkit.repositories.redis._keys import RedisKeys, redis_keys
from toolkit.repositories.redis._schema import (
    index_schema,
    info_map,
    missing_modules,
    no_index,
    stored_changes,
)
from toolkit.repositories.redis._script import Script, fill_source, script_plan, script_source

__all__ = ["IndexClient", "check_modules", "ensure_index"]

_INDEX_BUILD_TIMEOUT = 600.0  # seconds: a large table takes a while, a stuck build fails
_INDEX_BUILD_POLL = 0.01
_LOCK_MS = 30_000  # a migrating process not heard from for this long is taken to have stopped
_LOCK_POLL = 0.05
_GATED_TIMEOUT = 70.0  # seconds: a staged batch's lease (60 s), and some
_PAGE = 500  # documents filled in per script run
_FILL = Script(fill_source())
_WRITE = Script(script_source())


class IndexClient(Protocol):
    """What these steps use of a client (`toolkit.repositories.redis._connection`)."""

    location: str
    auto_create: bool

    async def command(self, *arguments: str | int) -> Any: ...


async def check_modules(client: IndexClient) -> None:
    """`BackendUnavailableError` unless the server has the JSON and Search modules."""
    missing = missing_modules(await client.command("MODULE", "LIST"))
    if missing:
        raise BackendUnavailableError(
            f"{client.location} lacks {' and '.join(missing)}: the Redis backend "
            "needs the JSON and Search modules (Redis 8, or Redis Stack 7.2+)"
        )


@dataclass(frozen=True, slots=True)
class _State:
    """How far the server is from what a model needs."""

    target: str | None  # the physical index the alias names, or None
    unrecorded: bool  # the table's ``fields`` set lacks some of the model's fields
    filled: tuple[str, ...]  # new fields the stored documents are to be given
    refused: tuple[str, ...]  # new fields they cannot be given
    documents: int


async def ensure_index(client: IndexClient, described: RedisTable[Any], prefix: str) -> None:
    """Make the documents and the index of ``described`` (under key prefix ``prefix``)
    current."""
    keys = redis_keys(prefix, described.table)
    arguments = index_schema(described, keys.documents)
    digest = hashlib.sha1(" ".join(arguments).encode()).hexdigest()[:16]
    physical = f"{keys.index}:{digest}"
    deadline = time.monotonic() + _INDEX_BUILD_TIMEOUT
    while True:
        state = await _state(client, described, keys)
        if state.refused:
            raise ConfigurationError(
                f"{described.facts.name}: the {state.documents} documents stored in Redis "
                f"cannot follow the model: {'; '.join(state.refused)}"
            )
        if state.target == physical and not state.filled:
            if state.unrecorded:  # nothing to fill in (bookkeeping, as a write keeps it)
                await client.command("SADD", keys.fields, *described.codec_of)
            await _wait_indexed(client, physical)  # another process may still be building it
            return
        if not client.auto_create:
            raise BackendUnavailableError(_out_of_date(client, keys, state, physical))
        token = uuid.uuid4().hex
        if await client.command("SET", keys.migrating, token, "NX", "PX", _LOCK_MS):
            try:  # from a fresh look: another process may have done some of it
                state = await _state(client, described, keys)
                if not state.refused:
                    if state.filled:
                        plan = script_plan(described.facts.table, prefix)
                        await _fill(client, described, keys, plan, state.filled, token)
                    await client.command("SADD", keys.fields, *described.codec_of)
                    if state.target != physical:
                        await _build(client, keys, arguments, state.target, physical)
            except BaseException:
                with contextlib.suppress(RedisError, OSError):  # the error to raise is this one
                    await _release(client, keys, token)
                raise
            await _release(client, keys, token)
            continue  # the next look finds it current, or raises
        if time.monotonic() > deadline:
            raise BackendUnavailableError(
                f"{client.location}: table {keys.table} was still being migrated by another "
                f"process after {_INDEX_BUILD_TIMEOUT:g} s"
            )
        await asyncio.sleep(_LOCK_POLL)


async def _state(client: IndexClient, described: RedisTable[Any], keys: RedisKeys) -> _State:
    info = await _index_info(client, keys.index)
    recorded = set(await client.command("SMEMBERS", keys.fields))
    changes = stored_changes(described, recorded, info)
    documents = 0
    if changes.filled or changes.refused:
        documents = int(await client.command("ZCARD", keys.ids))
    return _State(
        target=None if info is None else str(info["index_name"]),
        unrecorded=not described.codec_of.keys() <= recorded,
        filled=changes.filled if documents else (),
        refused=changes.refused if documents else (),
        documents=documents,
    )


def _out_of_date(client: IndexClient, keys: RedisKeys, state: _State, physical: str) -> str:
    parts = []
    if state.filled:
        parts.append(
            f"the {state.documents} documents of table {keys.table} lack fields the model "
            f"added ({', '.join(state.filled)}), which the toolkit fills in with their defaults"
        )
    if state.target != physical:
        parts.append(
            f"search index {keys.index} {'is out of date' if state.target else 'is missing'}"
        )
    return f"{client.location}: {' and '.join(parts)}, and STORAGE_AUTO_CREATE is off"


async def _fill(
    client: IndexClient,
    described: RedisTable[Any],
    keys: RedisKeys,
    plan: str,
    names: tuple[str, ...],
    token: str,
) -> None:
    """Give every document of the table that lacks fields ``names`` their defaults."""
    cursor = "0"
    while True:  # ZSCAN lists every row there from its start to its end, some maybe twice
        cursor, page = await client.command("ZSCAN", keys.ids, cursor, "COUNT", _PAGE)
        documents = [keys.document(str(member)) for member, _score in _pairs(page)]
        found = await client.command("JSON.MGET", *documents, "$") if documents else []
        runs: list[str] = []
        wide: set[str] = set()
        for document, stored in zip(documents, found, strict=True):
            if stored is None:
                continue  # deleted since it was listed
            runs.append(document)
            values = described.filled(names, json.loads(stored)[0])
            for name, given in zip(names, values, strict=True):
                # A default of None (a factory's): the field is left missing, which is NULL.
                runs.append("" if given is None else given[0])
                if given is not None and given[1]:
                    wide.add(name)
        if runs:
            await _fill_page(client, keys, plan, names, sorted(wide), runs, token)
        if str(cursor) == "0":
            return


async def _fill_page(
    client: IndexClient,
    keys: RedisKeys,
    plan: str,
    names: tuple[str, ...],
    wide: list[str],
    runs: list[str],
    token: str,
) -> None:
    deadline = time.monotonic() + _GATED_TIMEOUT
    while True:
        reply = await _run(
            client, _FILL, "fill", keys.migrating, token, _LOCK_MS,
            keys.gate, keys.changes, keys.wide, json.dumps(wide), len(names), *names, *runs,
        )  # fmt: skip
        if reply == "ok":
            return
        if reply == "lost":
            raise BackendUnavailableError(
                f"{client.location}: the migration of table {keys.table} was not heard from "
                f"for {_LOCK_MS / 1000:g} s and let go of; the next call takes it up again"
            )
        # A staged batch is in progress: one whose client stopped part-way is finished here,
        # as its next reader would; a live one is waited for.
        await _finish_expired(client, plan)
        if time.monotonic() > deadline:
            raise BackendUnavailableError(
                f"{client.location}: a staged batch on table {keys.table} kept it from being "
                f"migrated for {_GATED_TIMEOUT:g} s"
            )
        await asyncio.sleep(_LOCK_POLL)


async def _finish_expired(client: IndexClient, plan: str) -> None:
    """Finish the staged batches on the plan's tables whose lease ran out (the write
    script's ``expired`` and ``finish``, as `toolkit.repositories.redis._writer` runs them)."""
    expired = await _run(client, _WRITE, "expired", plan, "")
    for batch in expired[1:]:
        while (await _run(client, _WRITE, "finish", plan, str(batch), _PAGE))[1] != "done":
            pass


async def _release(client: IndexClient, keys: RedisKeys, token: str) -> None:
    """Let go of the table's lock, if it is still this process's (``token``)."""
    await _run(client, _FILL, "release", keys.migrating, token)


async def _run(client: IndexClient, script: Script, *arguments: str | int) -> Any:
    """Run ``script`` by its digest, loading it where the server lacks it; its reply."""
    try:
        return await client.command("EVALSHA", script.digest, 0, *arguments)
    except NoScriptError:
        return await client.command("EVAL", script.source, 0, *arguments)


def _pairs(page: Any) -> list[tuple[Any, Any]]:
    """ZSCAN's members and scores, as pairs (RESP3 may give them paired already)."""
    items = list(page)
    if items and isinstance(items[0], (list, tuple)):
        return [(member, score) for member, score in items]
    return list(zip(items[::2], items[1::2], strict=True))


async def _build(
    client: IndexClient, keys: RedisKeys, arguments: list[str], current: str | None, physical: str
) -> None:
    """Build index ``physical`` beside ``current``, switch the alias to it, drop ``current``."""
    if current == keys.index:  # an index, not an alias, by that name: made before aliases
        await _drop_index(client, current)
    try:
        await client.command("FT.CREATE", physical, *arguments)
    except ResponseError as exc:
        if "already exists" not in str(exc).lower():  # another process made it: as good
            raise
    await _wait_indexed(client, physical)
    await client.command("FT.ALIASUPDATE", keys.index, physical)
    if current is not None and current != keys.index:
        await _drop_index(client, current)


async def _index_info(client: IndexClient, alias: str) -> dict[str, Any] | None:
    """FT.INFO of the index ``alias`` names (or of an index of that very name), or None."""
    try:
        reply = await client.command("FT.INFO", alias)
    except ResponseError as exc:
        if no_index(exc):
            return None
        raise
    return info_map(reply)


async def _wait_indexed(client: IndexClient, name: str) -> None:
    """Return once index ``name`` holds every document it covers."""
    deadline = time.monotonic() + _INDEX_BUILD_TIMEOUT
    while str(info_map(await client.command("FT.INFO", name))["indexing"]) != "0":
        if time.monotonic() > deadline:
            raise BackendUnavailableError(
                f"{client.location}: search index {name} was still being built "
                f"after {_INDEX_BUILD_TIMEOUT} s"
            )
        await asyncio.sleep(_INDEX_BUILD_POLL)


async def _drop_index(client: IndexClient, name: str) -> None:
    """Drop index ``name`` (never its documents); gone already is as good."""
    try:
        await client.command("FT.DROPINDEX", name)
    except ResponseError as exc:
        if not no_index(exc):
            raise
