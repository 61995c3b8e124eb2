"""A model's search index on the server, made current before the model's first command, and the
check that the server has the modules the backend needs.

The index is built beside the one queries use, complete before it serves, then put in its place
by switching the alias queries name (``<prefix>:<table>:index``); the old one is dropped.
Physical indexes are named ``<alias>:<digest of the schema>``, so that processes that agree on
the model agree on the index, and a changed model builds a new one.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any, Protocol

from redis.exceptions import ResponseError

from toolkit.errors import BackendUnavailableError
from toolkit.repositories.redis._documents import RedisTable
from toolkit.repositories.redis._keys import RedisKeys
from toolkit.repositories.redis._schema import index_schema, info_map, missing_modules, no_index

__all__ = ["IndexClient", "check_modules", "ensure_index"]

_INDEX_BUILD_TIMEOUT = 600.0  # seconds: a large table takes a while, a stuck build fails
_INDEX_BUILD_POLL = 0.01


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


async def ensure_index(client: IndexClient, described: RedisTable[Any], keys: RedisKeys) -> None:
    """Make the index of ``described`` (whose keys are ``keys``) current."""
    arguments = index_schema(described, keys.documents)
    digest = hashlib.sha1(" ".join(arguments).encode()).hexdigest()[:16]
    physical = f"{keys.index}:{digest}"
    current = await _index_target(client, keys.index)
    if current == physical:
        await _wait_indexed(client, physical)  # another process may still be building it
        return
    if not client.auto_create:
        state = "is out of date" if current else "is missing"
        raise BackendUnavailableError(
            f"{client.location}: search index {keys.index} {state}, and STORAGE_AUTO_CREATE is off"
        )
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


async def _index_target(client: IndexClient, alias: str) -> str | None:
    """The index ``alias`` names (or an index of that very name), or None."""
    try:
        reply = await client.command("FT.INFO", alias)
    except ResponseError as exc:
        if no_index(exc):
            return None
        raise
    return str(info_map(reply)["index_name"])


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
