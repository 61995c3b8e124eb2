"""The repository's own statements, run on the driver's cursor with SQLAlchemy's type processing.

SQLAlchemy compiles a statement once per engine and caches it, but each execution still builds
an execution context, a cursor result and its rows: on a fast driver that costs more than the
statement itself (a primary-key SELECT on sqlite3 takes 11 µs on the cursor and 23 µs through
``Connection.execute``). The repository's statements are fixed (`_statements`), so each is
compiled here once per engine and set of parameters, and run with the bind and result
processors SQLAlchemy's types give for the dialect: the values stored and read are the same.

A statement that needs more of SQLAlchemy's execution (a Python-side column default, expanding
parameters, a parameter it is not given) is not taken here, and neither is any statement on a
connection that someone observes (echo, cursor events): those run through
``Connection.execute`` as before. The drivers' errors are wrapped as SQLAlchemy wraps them, so
that the one error funnel (`_errors`) reads them the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Dialect, Executable
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.selectable import Select
from sqlalchemy.types import TypeEngine

__all__ = ["DirectStatement", "DirectStatements", "driver_error", "observed"]

Processor = Callable[[Any], Any]


@dataclass(slots=True)
class DirectStatement:
    """One compiled statement: its SQL, how its parameters are bound, how its rows are read."""

    sql: str
    positional: bool  # the driver takes a sequence (else a mapping by the names in `binds`)
    binds: tuple[tuple[str, str, Processor | None], ...]  # (name in the SQL, key, processor)
    types: tuple[TypeEngine[Any], ...]  # of the columns read back
    dialect: Dialect
    # Per column read back, made from the first result's column types (the driver's codes).
    processors: tuple[Processor | None, ...] | None = field(default=None)

    def arguments(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        if self.positional:
            return [
                params[key] if process is None else process(params[key])
                for _, key, process in self.binds
            ]
        return {
            name: params[key] if process is None else process(params[key])
            for name, key, process in self.binds
        }

    def rows(
        self, found: Sequence[Sequence[Any]], column_types: Sequence[Any] | None
    ) -> Sequence[Sequence[Any]]:
        """``found`` with each value read as SQLAlchemy would (``column_types``: the driver's
        type code per column, or None where the driver gives none)."""
        processors = self.processors
        if processors is None:
            codes = column_types or [None] * len(self.types)
            processors = self.processors = tuple(
                kind.dialect_impl(self.dialect).result_processor(self.dialect, code)
                for kind, code in zip(self.types, codes, strict=True)
            )
        if not any(processors):
            return found
        return [
            tuple(
                value if process is None else process(value)
                for process, value in zip(processors, row, strict=True)
            )
            for row in found
        ]

    @property
    def knows_column_types(self) -> bool:
        return self.processors is not None


class DirectStatements:
    """An engine's compiled statements, by statement and the keys of its parameters."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        # The statement is kept with its entry: its id is the key, and may not be reused.
        self._compiled: dict[
            tuple[int, tuple[str, ...]], tuple[Executable, DirectStatement | None]
        ] = {}

    def get(self, statement: Executable, params: Mapping[str, Any]) -> DirectStatement | None:
        """``statement`` compiled for ``params``, or None when it must run through SQLAlchemy."""
        key = (id(statement), tuple(params))
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = (statement, _compile(statement, params, self._dialect))
        return found[1]


def _compile(
    statement: Executable, params: Mapping[str, Any], dialect: Dialect
) -> DirectStatement | None:
    if isinstance(statement, Select):
        types = tuple(column.type for column in statement.selected_columns)
    elif isinstance(statement, UpdateBase):
        types = tuple(column.type for column in statement.exported_columns)
    else:
        return None
    compiled = statement.compile(dialect=dialect, column_keys=sorted(params))
    assert isinstance(compiled, SQLCompiler)
    if compiled.insert_prefetch or compiled.update_prefetch or compiled.literal_execute_params:
        return None  # Python-side defaults to compute, or values rendered at execution
    binds = compiled.binds
    if any(bind.expanding for bind in binds.values()):
        return None
    order = compiled.positiontup if compiled.positional else list(binds)
    if order is None or any(binds[name].key not in params for name in order):
        return None
    escaped = compiled.escaped_bind_names
    return DirectStatement(
        sql=compiled.string,
        positional=compiled.positional,
        binds=tuple(
            (
                escaped.get(name, name),
                binds[name].key,
                binds[name].type.dialect_impl(dialect).bind_processor(dialect),
            )
            for name in order
        ),
        types=types,
        dialect=dialect,
    )


def observed(connection: Connection) -> bool:
    """Whether statements on ``connection`` are logged, or have execution or error listeners.

    SQLAlchemy's own flags say at once that no listener was ever added (the common case); once
    one was (they stay set after its removal), the listeners themselves are looked at."""
    if connection._echo:
        return True
    if connection._has_events or connection.engine._has_events:
        dispatch = connection.dispatch
        if (
            dispatch.before_execute
            or dispatch.after_execute
            or dispatch.before_cursor_execute
            or dispatch.after_cursor_execute
        ):
            return True
    return connection.dialect._has_events and bool(connection.dialect.dispatch.handle_error)


def driver_error(
    direct: DirectStatement, arguments: Any, error: Exception, base: type[Exception]
) -> Exception:
    """``error`` (raised by the driver) as SQLAlchemy raises it: a DBAPI error wrapped in its
    `DBAPIError` subclass; anything else as it is."""
    if not isinstance(error, base):
        return error
    return DBAPIError.instance(direct.sql, arguments, error, base, dialect=direct.dialect)
