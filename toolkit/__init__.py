"""Typed repositories for SQLModel models on PostgreSQL, SQLite and Redis, async and sync.

Declare a model once as a SQLModel ``table=True`` class, then::

    async with get_provider() as provider:
        heroes = provider.get_repository(Hero)
        hero = await heroes.create(Hero(name="Deadpond", secret_name="Dive Wilson"))

or, in sync code, ``with get_sync_provider() as provider: ...``.
"""

from toolkit._model import ModelT, PrimaryKey
from toolkit._relations import Load
from toolkit._versioned import Versioned
from toolkit.config import Settings
from toolkit.errors import (
    BackendUnavailableError,
    ConfigurationError,
    ConflictError,
    ConstraintError,
    NotFoundError,
    RelationshipNotLoadedError,
    StaleVersionError,
    ToolkitError,
    UnsupportedQueryError,
    ValidationError,
)
from toolkit.problems import add_exception_handlers
from toolkit.query import OrderBy, OrderItem, Page, Where
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.providers import RepositoryProvider
from toolkit.repositories.sync_base import BaseSyncRepository
from toolkit.repositories.sync_providers import SyncRepositoryProvider
from toolkit.storage_dependencies import (
    get_provider,
    get_repository_provider,
    provider_dependency,
    repository_for,
)
from toolkit.sync_storage_dependencies import (
    get_sync_provider,
    get_sync_repository_provider,
    sync_provider_dependency,
    sync_repository_for,
)

__all__ = [
    "BackendUnavailableError",
    "BaseRepository",
    "BaseSyncRepository",
    "ConfigurationError",
    "ConflictError",
    "ConstraintError",
    "Load",
    "ModelT",
    "NotFoundError",
    "OrderBy",
    "OrderItem",
    "Page",
    "PrimaryKey",
    "RelationshipNotLoadedError",
    "RepositoryProvider",
    "Settings",
    "StaleVersionError",
    "SyncRepositoryProvider",
    "ToolkitError",
    "UnsupportedQueryError",
    "ValidationError",
    "Versioned",
    "Where",
    "add_exception_handlers",
    "get_provider",
    "get_repository_provider",
    "get_sync_provider",
    "get_sync_repository_provider",
    "provider_dependency",
    "repository_for",
    "sync_provider_dependency",
    "sync_repository_for",
]
