"""Entry points: `get_provider` and the FastAPI dependency `get_repository_provider`.

Backends are found by name in a registry. Engines are made on first use (async: one per event
loop, disposed when it shuts down; sync: one per process, disposed at exit) or by
`dispose_engines`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from toolkit.config import Settings, UrlField
from toolkit.errors import ConfigurationError
from toolkit.repositories.providers import (
    RedisRepositoryProvider,
    RepositoryProvider,
    SqlRepositoryProvider,
)
from toolkit.repositories.redis._connection import RedisClients, RedisScope
from toolkit.repositories.sql._connection import SqlConnectionScope
from toolkit.repositories.sql._dialect import SqlDialect
from toolkit.repositories.sql._engines import SqlEngines
from toolkit.repositories.sql._postgres import POSTGRES
from toolkit.repositories.sql._sqlite import SQLITE

ProviderFactory = Callable[[Settings], AbstractAsyncContextManager[RepositoryProvider]]


@dataclass(frozen=True, slots=True)
class Backend:
    """A registered backend: how to open a provider on it, and which setting holds its URL."""

    name: str
    open: ProviderFactory
    url_field: UrlField


_ENGINES = SqlEngines()
_REDIS_CLIENTS = RedisClients()
_BACKENDS: dict[str, Backend] = {}


def register_backend(backend: Backend) -> None:
    """Make ``backend`` available to `get_provider` by its name (replacing any namesake)."""
    _BACKENDS[backend.name] = backend


def backend_names() -> list[str]:
    """The names `get_provider` accepts."""
    return sorted(_BACKENDS)


def _sql_backend(dialect: SqlDialect, url_field: UrlField) -> Backend:
    @asynccontextmanager
    async def open_provider(settings: Settings) -> AsyncIterator[RepositoryProvider]:
        engine = await _ENGINES.get(dialect, settings)
        provider = SqlRepositoryProvider(SqlConnectionScope(engine, settings.cursor_key()))
        try:
            yield provider
        finally:
            await provider.close()

    return Backend(dialect.name, open_provider, url_field)


@asynccontextmanager
async def _open_redis(settings: Settings) -> AsyncIterator[RepositoryProvider]:
    client = await _REDIS_CLIENTS.get(settings)
    yield RedisRepositoryProvider(
        RedisScope(client, settings.redis_key_prefix, settings.cursor_key())
    )


register_backend(_sql_backend(POSTGRES, "postgres_url"))
register_backend(_sql_backend(SQLITE, "sqlite_url"))
register_backend(Backend("redis", _open_redis, "redis_url"))


@asynccontextmanager
async def get_provider(
    backend: str | None = None, *, url: str | None = None, settings: Settings | None = None
) -> AsyncIterator[RepositoryProvider]:
    """Open a provider on ``backend`` (default: ``STORAGE_BACKEND``, else "sqlite").

    ``url`` overrides the backend's URL setting and ``settings`` the whole environment.
    The provider is closed when the block ends, also when it raises.
    """
    resolved = settings if settings is not None else Settings.from_env()
    name = (backend if backend is not None else resolved.backend).strip().lower()
    chosen = _BACKENDS.get(name)
    if chosen is None:
        raise ConfigurationError(
            f"unknown storage backend {name!r}; choose one of: {', '.join(backend_names())}"
        )
    if url is not None:
        resolved = resolved.with_url(chosen.url_field, url)
    async with chosen.open(resolved) as provider:
        yield provider


async def get_repository_provider() -> AsyncGenerator[RepositoryProvider, None]:
    """FastAPI dependency: a provider on the configured backend, closed after the request."""
    async with get_provider() as provider:
        yield provider


async def dispose_engines() -> None:
    """Close the engines and clients now and drop them; later calls make new ones."""
    await _ENGINES.dispose()
    await _REDIS_CLIENTS.dispose()
