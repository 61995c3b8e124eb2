"""The toolkit's error taxonomy.

Every backend raises these and nothing else: a driver's exception is translated into one of them
and kept as ``__cause__``. Catch ``ToolkitError`` to handle them all.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic_core import ErrorDetails

__all__ = [
    "BackendUnavailableError",
    "ConfigurationError",
    "ConflictError",
    "ConstraintError",
    "NotFoundError",
    "RelationshipNotLoadedError",
    "StaleVersionError",
    "ToolkitError",
    "UnsupportedQueryError",
    "ValidationError",
]


class ToolkitError(Exception):
    """Base class of every error the toolkit raises."""


class NotFoundError(ToolkitError):
    """No row has the requested primary key."""

    def __init__(self, model: str, id: object) -> None:
        super().__init__(f"{model} with id {id!r} not found")
        self.model = model
        self.id = id


class ConflictError(ToolkitError):
    """A write would duplicate a primary key or a unique value (or, on Redis, a unit of work
    read rows that changed before it ended).

    ``model`` names the model written and ``fields`` the fields whose values clash (the primary
    key, or the fields of one unique constraint), in the model's terms on every backend: the
    same conflict has the same message and the same ``fields`` on each. The driver's own
    exception, when there is one, is ``__cause__``.
    """

    def __init__(self, message: str, *, model: str = "", fields: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.model = model
        self.fields: tuple[str, ...] = tuple(fields)


class StaleVersionError(ConflictError):
    """A write of a `toolkit.Versioned` model named a version that is no longer the row's: the
    copy written is stale. Nothing was written; read the row again and retry."""

    def __init__(self, model: str, id: object, expected: int, current: int | None) -> None:
        found = "" if current is None else f", the row is at version {current}"
        super().__init__(
            f"{model} with id {id!r}: version {expected} is stale{found}",
            model=model,
            fields=("version",),
        )
        self.id = id
        self.expected = expected
        self.current = current


class RelationshipNotLoadedError(ToolkitError):
    """A relationship attribute was read on an instance that a repository returned without it:
    ask for it with ``load=[Model.attribute]``."""

    def __init__(self, model: str, attribute: str) -> None:
        super().__init__(
            f"{model}.{attribute} was not loaded: pass load=[{model}.{attribute}] to the "
            "repository call that reads the rows"
        )
        self.model = model
        self.attribute = attribute


class ConstraintError(ToolkitError):
    """A constraint other than uniqueness refused the write or the delete (a foreign key, a
    missing required value, a check).

    ``model`` names the model written or deleted from and ``fields`` the fields at fault, as
    on `ConflictError`: a foreign key naming a missing row gives its field; a delete refused
    because other rows still refer to the row gives none.
    """

    def __init__(self, message: str, *, model: str = "", fields: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.model = model
        self.fields: tuple[str, ...] = tuple(fields)


class ValidationError(ToolkitError):
    """Input breaks the model's schema; nothing was written.

    ``errors`` lists what is wrong where, in pydantic's format (``type``, ``loc``, ``msg``,
    ``input``), never empty: an error that no single field explains (a bad argument, a value
    the database refused) is one entry of type ``value_error`` at ``loc`` ``()``, its ``msg``
    the message.
    """

    def __init__(self, message: str, errors: list[ErrorDetails] | None = None) -> None:
        super().__init__(message)
        self.errors: list[ErrorDetails] = errors or [
            {"type": "value_error", "loc": (), "msg": message, "input": None}
        ]


class BackendUnavailableError(ToolkitError):
    """The backend cannot be reached, did not answer in time, or is unfit to serve."""


class ConfigurationError(ToolkitError):
    """The toolkit was configured wrongly: an unknown backend, a malformed URL, a bad setting."""


class UnsupportedQueryError(ToolkitError):
    """The backend cannot run this filter or order exactly as the others do; it names the part."""
