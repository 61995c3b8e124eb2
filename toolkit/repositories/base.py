"""The repository contract every backend meets."""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Generic

from pydantic import BaseModel

from toolkit._model import ModelT, PrimaryKey
from toolkit._relations import Load
from toolkit.query import OrderBy, Page, Where
from toolkit.query._cursor import check_window


class BaseRepository(ABC, Generic[ModelT]):
    """Typed access to the rows of one model.

    Every call is atomic; inside ``provider.transaction()`` the calls commit together.
    Returned instances are plain, complete and detached: they stay usable after the provider
    that made the repository is closed. Their relationships are filled only when named in
    ``load=`` (one query per relationship); reading one that was not raises
    `RelationshipNotLoadedError`.
    """

    model: type[ModelT]

    @abstractmethod
    async def get(self, id: PrimaryKey, *, load: Load = ()) -> ModelT | None:
        """Return the row with this primary key, or ``None``."""

    @abstractmethod
    async def get_one(self, id: PrimaryKey, *, load: Load = ()) -> ModelT:
        """Return the row with this primary key; raise ``NotFoundError`` when there is none."""

    @abstractmethod
    async def create(self, model: ModelT) -> ModelT:
        """Validate and insert ``model``; return the stored row with its generated values.

        Raises ``ValidationError`` (nothing written), ``ConflictError`` (duplicate primary key or
        unique value) or ``ConstraintError`` (a foreign key or other constraint refused it).
        Related instances in relationship attributes are refused (``ValidationError`` naming
        the attribute): each model's rows are written through its own repository.
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

        Raises ``NotFoundError`` when no such row exists, and the errors ``create`` raises. On a
        `Versioned` model, ``StaleVersionError`` when the row is no longer at ``model.version``.
        """

    @abstractmethod
    async def patch(self, id: PrimaryKey, changes: Mapping[str, object] | BaseModel) -> ModelT:
        """Write only the fields in ``changes`` to the row with this primary key, atomically;
        return the stored row.

        ``changes`` maps field names to values, or is a pydantic model whose explicitly set
        fields are the changes (``model_dump(exclude_unset=True)``). The merged row is validated
        with the model's validators first. A concurrent write of other fields is kept. On a
        `Versioned` model, a ``version`` in ``changes`` is the version the row must be at.
        Raises ``NotFoundError``, ``ValidationError`` (an unknown field, a bad value) and what
        ``update`` raises.
        """

    @abstractmethod
    async def delete(self, id: PrimaryKey, *, version: int | None = None) -> bool:
        """Delete the row with this primary key; return whether a row was deleted.

        ``version`` (`Versioned` models only): delete only if the row is at that version, else
        raise ``StaleVersionError``.
        """

    @abstractmethod
    async def list(
        self,
        *where: Where,
        order_by: OrderBy = None,
        limit: int | None = None,
        offset: int = 0,
        load: Load = (),
    ) -> builtins.list[ModelT]:
        """The rows matching every ``where`` item, in ``order_by`` order (then primary key).

        Without arguments: every row, in primary-key order.
        """

    async def stream(
        self, *where: Where, order_by: OrderBy = None, batch_size: int = 1_000
    ) -> AsyncIterator[ModelT]:
        """Every row matching ``where``, in ``order_by`` order (then primary key), as `list`
        gives them, read ``batch_size`` rows at a time: memory stays bounded by the batch.

        Each batch is one keyset query after the last row of the one before (as `page`), so
        nothing is held between batches: the provider can write while the stream is read. A
        row written during the stream is seen or not depending on where it falls; a row that
        stays as it was is given exactly once.
        """
        check_window(batch_size, 0, page=True)
        cursor: str | None = None
        while True:
            batch = await self.page(*where, order_by=order_by, limit=batch_size, cursor=cursor)
            for item in batch.items:
                yield item
            if batch.next_cursor is None:
                return
            cursor = batch.next_cursor

    @abstractmethod
    async def first(
        self, *where: Where, order_by: OrderBy = None, load: Load = ()
    ) -> ModelT | None:
        """The first row matching ``where`` in ``order_by`` order, or None."""

    @abstractmethod
    async def count(self, *where: Where) -> int:
        """How many rows match ``where``."""

    @abstractmethod
    async def exists(self, *where: Where) -> bool:
        """Whether any row matches ``where``."""

    @abstractmethod
    async def page(
        self,
        *where: Where,
        order_by: OrderBy = None,
        limit: int = 50,
        cursor: str | None = None,
        load: Load = (),
    ) -> Page[ModelT]:
        """Up to ``limit`` rows after ``cursor`` (keyset pagination), and the next cursor.

        Rows written between pages are neither missed nor repeated; a cursor that was altered,
        or that belongs to another model or order, raises ``ValidationError``.
        """

    @abstractmethod
    async def update_many(self, models: Iterable[ModelT]) -> builtins.list[ModelT]:
        """`update` every model, all or nothing; the stored rows in order."""

    @abstractmethod
    async def upsert(self, model: ModelT) -> ModelT:
        """Insert ``model``, or update the row with its primary key; the stored row.

        On a `Versioned` model an existing row is updated only at ``model.version``.
        """

    @abstractmethod
    async def delete_many(self, ids: Iterable[PrimaryKey]) -> int:
        """Delete the rows with these primary keys, all or nothing; how many went."""

    @abstractmethod
    async def delete_where(self, *where: Where) -> int:
        """Delete the rows matching every ``where`` item; how many went."""
