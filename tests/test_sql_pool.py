"""SQL pools: a provider holds one pooled connection, so pool limits show through.

``test_sql_pool.py`` is the async source of ``test_sync_sql_pool.py``. Redis has no such hold
(each call takes a connection for one round trip), so these run on the SQL backends only.
"""

from __future__ import annotations

import pytest

from models import ActionExecution, Hero, Team
from tests.conftest import SQL_BACKENDS
from tests.services import drop_table
from toolkit.config import Settings
from toolkit.errors import BackendUnavailableError
from toolkit.storage_dependencies import get_provider


@pytest.fixture(params=SQL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


async def test_a_one_connection_pool_serves_a_provider_that_creates_tables(
    settings: Settings, backend: str
) -> None:
    drop_table(settings, backend, Team)
    tiny = settings.replace(pool_size=1, max_overflow=0, pool_timeout=2.0)

    async with get_provider(settings=tiny) as provider:
        actions = await provider.get_repository(ActionExecution).list()
        teams = await provider.get_repository(Team).list()  # creates team on the same connection
        heroes = await provider.get_repository(Hero).list()

    assert (actions, teams, heroes) == ([], [], [])


async def test_an_exhausted_pool_raises_backend_unavailable(
    settings: Settings, backend: str
) -> None:
    tiny = settings.replace(pool_size=1, max_overflow=0, pool_timeout=1.0, pool_recycle=7)

    async with get_provider(settings=tiny) as holder:
        await holder.get_repository(Team).list()  # holds the only connection
        with pytest.raises(BackendUnavailableError):
            async with get_provider(settings=tiny) as waiting:
                await waiting.get_repository(Team).list()
