"""`Versioned`: the mixin that gives a model optimistic concurrency on every backend."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from toolkit.errors import ValidationError

__all__ = ["LAST_VERSION", "Versioned", "checked_version", "next_version"]

LAST_VERSION = 2**31 - 1
"""The highest version a row holds (a 32-bit column on every backend)."""


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

    version: int = Field(default=0, ge=0, le=LAST_VERSION)


def checked_version(model_name: str, version: object) -> int:
    """A version a caller names (``patch``'s, ``delete``'s), checked before anything is sent:
    `ValidationError` unless an integer a row can be at."""
    if type(version) is not int or not 0 <= version <= LAST_VERSION:
        raise ValidationError(
            f"invalid {model_name}: version must be an integer from 0 to {LAST_VERSION}, "
            f"not {version!r}",
            errors=[
                {"type": "version", "loc": ("version",), "msg": "Not a version", "input": version}
            ],
        )
    return version


def next_version(model_name: str, version: int) -> int:
    """The version a write of a row at ``version`` stores; `ValidationError` at the last one,
    before anything is written (no backend could store the next)."""
    if version >= LAST_VERSION:
        raise ValidationError(
            f"invalid {model_name}: version {version} is the last a row can reach; "
            "it cannot be written again",
            errors=[
                {"type": "version", "loc": ("version",), "msg": "Last version", "input": version}
            ],
        )
    return version + 1
