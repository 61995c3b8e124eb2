"""Providers: what ``get_provider`` yields, a unit of work that hands out repositories."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from toolkit._model import ModelT
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.redis._connection import RedisScope
from toolkit.repositories.redis._repository import RedisRepository
from toolkit.repositories.sql._connection import SqlConnectionScope
from toolkit.repositories.sql._repository import SqlRepository


class RepositoryProvider(Protocol):
    """Hands out a typed repository for any SQLModel table class."""

    def get_repository(self, model_cls: type[ModelT]) -> BaseRepository[ModelT]:
        """The repository of ``model_cls`` on this provider's backend."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """A unit of work: the calls made inside the block, on any repository of this provider,
        take effect together when it ends, or none of them does (an exception rolls back and is
        raised again). A block inside a block is a savepoint: its failure undoes only its own
        calls. The tasks the block starts are part of it; other tasks and threads are not."""
        ...


class SqlRepositoryProvider:
    """`RepositoryProvider` on PostgreSQL or SQLite: its repositories share one connection."""

    def __init__(self, scope: SqlConnectionScope) -> None:
        self._scope = scope
        self._repositories: dict[type[Any], Any] = {}

    def get_repository(self, model_cls: type[ModelT]) -> BaseRepository[ModelT]:
        repository: BaseRepository[ModelT] | None = self._repositories.get(model_cls)
        if repository is None:
            repository = self._repositories[model_cls] = SqlRepository(model_cls, self._scope)
        return repository

    def transaction(self) -> AbstractAsyncContextManager[None]:
        return self._scope.transaction()

    async def close(self) -> None:
        """Return the connection to the pool; the provider's repositories are done with."""
        await self._scope.close()


class RedisRepositoryProvider:
    """`RepositoryProvider` on Redis: its repositories share one client."""

    def __init__(self, scope: RedisScope) -> None:
        self._scope = scope
        self._repositories: dict[type[Any], Any] = {}

    def get_repository(self, model_cls: type[ModelT]) -> BaseRepository[ModelT]:
        repository: BaseRepository[ModelT] | None = self._repositories.get(model_cls)
        if repository is None:
            repository = self._repositories[model_cls] = RedisRepository(model_cls, self._scope)
        return repository

    def transaction(self) -> AbstractAsyncContextManager[None]:
        return self._scope.transaction()
