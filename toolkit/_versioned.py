"""`Versioned`: the mixin that gives a model optimistic concurrency on every backend."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

__all__ = ["Versioned"]


class Versioned(SQLModel):
    """Mixin for a table model: an integer ``version``, checked and moved on by every write.

    ``create`` stores version 1. ``update``, ``upsert`` and ``patch`` (when its changes name a
    ``version``) write only if the stored row is still at the copy's version, and store the next
    one; ``delete(id, version=n)`` deletes only at version ``n``. A stale copy raises
    `StaleVersionError` and writes nothing. ``0`` is the version of a copy never stored::

        class Account(Versioned, table=True):
            id: int | None = Field(default=None, primary_key=True)
            balance: int = 0
    """

    version: int = Field(default=0, ge=0, le=2**31 - 1)
