"""The SQL wing's one error funnel: a driver's or SQLAlchemy's exception as a toolkit error."""

from __future__ import annotations

from sqlalchemy.engine import URL
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    PendingRollbackError,
    ProgrammingError,
    SQLAlchemyError,
    StatementError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from toolkit.errors import BackendUnavailableError, ToolkitError, ValidationError
from toolkit.repositories.sql._dialect import IntegrityRefusal, SqlDialect
from toolkit.repositories.sql._integrity import Subject, refusal_error

__all__ = ["CONNECTION_INTACT", "DRIVER_ERRORS", "Subject", "translate_error"]

# What a driver or SQLAlchemy raises: asyncpg raises OSError and TimeoutError unwrapped on
# connect; drivers raise TypeError, ValueError or OverflowError unwrapped for a value they
# cannot bind (sqlite3: an int beyond 64 bits; psycopg2: a NUL character).
DRIVER_ERRORS = (SQLAlchemyError, OSError, TimeoutError, TypeError, ValueError, OverflowError)
# Errors after which an autocommitting connection is as good as before: the statement failed,
# the connection did not. After any other error (a timeout, a cancellation, a lost server) the
# connection's state is unknown, and it is dropped.
CONNECTION_INTACT = (
    IntegrityError,
    DataError,
    ProgrammingError,
    TypeError,
    ValueError,
    ToolkitError,  # raised by the toolkit itself in a call, e.g. a row missing from a batch
)
_UNAVAILABLE = (
    OperationalError,
    InterfaceError,
    PendingRollbackError,
    PoolTimeoutError,  # no pooled connection came free within pool_timeout
    OSError,
    TimeoutError,
)
# A value the driver cannot bind, found before the server saw it: raised bare by drivers
# (sqlite3: an int beyond 64 bits; psycopg2: a NUL character), or as SQLAlchemy's
# StatementError around them (a JSON value that does not serialize).
_UNBINDABLE = (TypeError, ValueError, OverflowError, ProgrammingError)


def translate_error(
    dialect: SqlDialect, url: URL, subject: Subject, exc: BaseException
) -> ToolkitError:
    """The toolkit error for a driver or SQLAlchemy exception raised serving ``subject``.

    A constraint's refusal names the model's fields and leaves the driver's words to the cause
    (``raise ... from exc``), as does a value the database refused; an outage says where.
    """
    orig = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    statement, params = (
        (exc.statement, exc.params) if isinstance(exc, StatementError) else (None, None)
    )
    refusal = dialect.integrity_refusal(orig, statement, params)
    if refusal is None and isinstance(exc, IntegrityError):
        refusal = IntegrityRefusal("other")
    if refusal is not None:
        return refusal_error(refusal, subject, statement)
    reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    kind = dialect.error_kind(orig)
    if kind is None:
        if isinstance(exc, DataError):
            kind = ValidationError
        elif isinstance(exc, _UNAVAILABLE) or isinstance(orig, _UNAVAILABLE):
            kind = BackendUnavailableError
        elif isinstance(exc, _UNBINDABLE) or isinstance(orig, _UNBINDABLE):
            kind = ValidationError
        else:
            kind = ToolkitError
    if kind is BackendUnavailableError:
        return kind(f"{dialect.describe(url)} is unavailable: {reason}")
    if kind is ValidationError:
        # The driver's words may quote the value: they stay in the cause.
        return kind(f"{subject.name}: a value given cannot be stored")
    return kind(f"{subject.name}: {dialect.describe(url)} failed: {reason}")
