"""UUID columns come back as `uuid.UUID` itself on every backend and path.

(asyncpg decodes them to a UUID class of its own unless told otherwise.) Each test runs once per
backend (the ``backend`` fixture); the async and the sync path each have theirs.
"""

from __future__ import annotations

import uuid

from sqlmodel import col

from models import ActionExecution
from toolkit.config import Settings
from toolkit.storage_dependencies import get_provider
from toolkit.sync_storage_dependencies import get_sync_provider


def assert_plain_uuids(rows: list[ActionExecution]) -> None:
    assert rows
    for row in rows:
        assert type(row.id) is uuid.UUID


async def test_uuid_keys_are_uuid_uuid_on_the_async_path(settings: Settings) -> None:
    async with get_provider(settings=settings) as provider:
        executions = provider.get_repository(ActionExecution)
        created = await executions.create(ActionExecution(action_name="sync-index"))
        many = await executions.create_many(
            [ActionExecution(action_name="a"), ActionExecution(action_name="b")]
        )
        fetched = await executions.get_one(created.id)
        found = await executions.first(col(ActionExecution.id) == created.id)
        listed = await executions.list()

    assert found is not None
    assert_plain_uuids([created, *many, fetched, found, *listed])
    assert fetched.id == created.id


def test_uuid_keys_are_uuid_uuid_on_the_sync_path(settings: Settings) -> None:
    with get_sync_provider(settings=settings) as provider:
        executions = provider.get_repository(ActionExecution)
        created = executions.create(ActionExecution(action_name="sync-index"))
        many = executions.create_many(
            [ActionExecution(action_name="a"), ActionExecution(action_name="b")]
        )
        fetched = executions.get_one(created.id)
        found = executions.first(col(ActionExecution.id) == created.id)
        listed = executions.list()

    assert found is not None
    assert_plain_uuids([created, *many, fetched, found, *listed])
    assert fetched.id == created.id
