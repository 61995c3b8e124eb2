"""Entry points: `get_provider`, and the FastAPI dependencies `get_repository_provider` (a
provider on the environment's settings), `provider_dependency` (one on settings the app gives)
and `repository_for` (one model's repository).

Backends are found by name in a registry. Engines are made on first use (async: one per event
loop, disposed when it shuts down; sync: one per process, disposed at exit) or by
`dispose_engines`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from toolkit._model import ModelT, model_facts
from toolkit.config import Settings, UrlField
from toolkit.errors import ConfigurationError
from toolkit.repositories.base import BaseRepository
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
    chosen = _backend(backend if backend is not None else resolved.backend)
    if url is not None:
        resolved = resolved.with_url(chosen.url_field, url)
    async with chosen.open(resolved) as provider:
        yield provider


def _backend(name: str) -> Backend:
    chosen = _BACKENDS.get(name.strip().lower())
    if chosen is None:
        raise ConfigurationError(
            f"unknown storage backend {name.strip().lower()!r}; choose one of: "
            f"{', '.join(backend_names())}"
        )
    return chosen


async def get_repository_provider() -> AsyncGenerator[RepositoryProvider, None]:
    """FastAPI dependency: a provider on the configured backend, closed after the request."""
    async with get_provider() as provider:
        yield provider


ProviderDependency = Callable[..., AsyncIterator[RepositoryProvider]]
"""A FastAPI dependency that yields a provider: this module's, or an app's own."""


def provider_dependency(
    backend: str | None = None, *, url: str | None = None, settings: Settings | None = None
) -> Callable[[], AsyncGenerator[RepositoryProvider, None]]:
    """A FastAPI dependency that opens a provider for each request and closes it after, as
    `get_provider` opens one: on ``backend`` (default: the settings' backend) with ``url`` and
    ``settings`` given by the app; the environment is read only when no ``settings`` are
    given. An unknown backend name is a `ConfigurationError` now, as the app is made, rather
    than at its first request.

    Give it to `repository_for`, or put it in place of the environment's dependency for
    every endpoint at once: ``app.dependency_overrides[get_repository_provider] =
    provider_dependency(settings=...)``.
    """
    if backend is not None:
        _backend(backend)
    elif settings is not None:
        _backend(settings.backend)

    async def open_for_request() -> AsyncGenerator[RepositoryProvider, None]:
        async with get_provider(backend, url=url, settings=settings) as provider:
            yield provider

    return open_for_request


def repository_for(
    model: type[ModelT], provider: ProviderDependency = get_repository_provider
) -> Callable[[RepositoryProvider], BaseRepository[ModelT]]:
    """A FastAPI dependency giving ``model``'s repository, on the provider that the dependency
    ``provider`` opens for the request (by default, the one on the environment's settings)::

        heroes: Annotated[BaseRepository[Hero], Depends(repository_for(Hero))]

    FastAPI runs ``provider`` once per request, so the repositories a request asks for share
    its one provider (and its `transaction`). Needs FastAPI; a class that is not a table model
    is a `ConfigurationError` now, as the app is made.
    """
    model_facts(model)
    from fastapi import Depends  # an optional extra: imported when a dependency is made

    # Depends() as the default, not in Annotated[...]: FastAPI would evaluate the annotation
    # in the module's globals, where the closure's ``provider`` is not.
    def repository_dependency(
        opened: RepositoryProvider = Depends(provider),  # noqa: B008
    ) -> BaseRepository[ModelT]:
        return opened.get_repository(model)

    return repository_dependency


async def dispose_engines() -> None:
    """Close the engines and clients now and drop them; later calls make new ones."""
    await _ENGINES.dispose()
    await _REDIS_CLIENTS.dispose()
