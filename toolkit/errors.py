"""The toolkit's error taxonomy.

Every backend raises these and nothing else: a driver's exception is translated into one of them
and kept as ``__cause__``. Catch ``ToolkitError`` to handle them all.
"""

from __future__ import annotations

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
    """A write would duplicate a primary key or a unique value."""


class StaleVersionError(ConflictError):
    """A write of a `toolkit.Versioned` model named a version that is no longer the row's: the
    copy written is stale. Nothing was written; read the row again and retry."""

    def __init__(self, model: str, id: object, expected: int, current: int | None) -> None:
        found = "" if current is None else f", the row is at version {current}"
        super().__init__(f"{model} with id {id!r}: version {expected} is stale{found}")
        self.model = model
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
    """A database constraint other than uniqueness refused the write (a foreign key, a check)."""


class ValidationError(ToolkitError):
    """Input breaks the model's schema; nothing was written.

    ``errors`` lists what is wrong where, in pydantic's format (``loc``, ``type``, ``msg``).
    """

    def __init__(self, message: str, errors: list[ErrorDetails] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []


class BackendUnavailableError(ToolkitError):
    """The backend cannot be reached, did not answer in time, or is unfit to serve."""


class ConfigurationError(ToolkitError):
    """The toolkit was configured wrongly: an unknown backend, a malformed URL, a bad setting."""


class UnsupportedQueryError(ToolkitError):
    """The backend cannot run this filter or order exactly as the others do; it names the part."""
