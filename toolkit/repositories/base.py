"""The repository contract every backend meets (async)."""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Generic

from toolkit.schema import ModelT, PrimaryKey


class BaseRepository(ABC, Generic[ModelT]):
    """Typed access to the rows of one model.

    Every call is atomic. Returned instances are plain, fully loaded and detached: they stay
    usable after the provider that made the repository is closed.
    """

    model: type[ModelT]

    @abstractmethod
    async def get(self, id: PrimaryKey) -> ModelT | None:
        """Return the row with this primary key, or ``None``."""

    @abstractmethod
    async def get_one(self, id: PrimaryKey) -> ModelT:
        """Return the row with this primary key; raise ``NotFoundError`` when there is none."""

    @abstractmethod
    async def create(self, model: ModelT) -> ModelT:
        """Validate and insert ``model``; return the stored row with its generated values.

        Raises ``ValidationError`` (nothing written), ``ConflictError`` (duplicate primary key or
        unique value) or ``ConstraintError`` (a foreign key or other constraint refused it).
        """

    @abstractmethod
    async def create_many(self, models: Iterable[ModelT]) -> builtins.list[ModelT]:
        """Validate and insert every model, all or nothing; return the stored rows in order.

        Every item is validated before anything is written. Raises what ``create`` raises; the
        message names the position of the offending item when it is known.
        """

    @abstractmethod
    async def update(self, model: ModelT) -> ModelT:
        """Validate ``model`` and overwrite the row with its primary key; return the stored row.

        Raises ``NotFoundError`` when no such row exists, and the errors ``create`` raises.
        """

    @abstractmethod
    async def delete(self, id: PrimaryKey) -> bool:
        """Delete the row with this primary key; return whether a row was deleted."""

    @abstractmethod
    async def list(self) -> builtins.list[ModelT]:
        """Return every row, in primary-key order."""
