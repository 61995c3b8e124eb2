"""A provider's hold on a SQL engine: one pooled connection, the error funnel around it, and the
provider's units of work (`SqlConnectionScope.transaction`)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Executable, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from toolkit.errors import ToolkitError
from toolkit.repositories.sql._acompat import afetch_rows
from toolkit.repositories.sql._dialect import SqlDialect
from toolkit.repositories.sql._engines import SqlEngine
from toolkit.repositories.sql._errors import (
    CONNECTION_INTACT,
    DRIVER_ERRORS,
    Subject,
    translate_error,
)

_BLOCK = Subject("transaction")  # what errors of the block's own statements are about

_OPEN: ContextVar[tuple[object, ...]] = ContextVar("toolkit_sql_blocks", default=())
"""The scopes whose `transaction` block the running code is inside: the code of the block, and
the tasks it starts (they copy its context); not other tasks or threads."""


class SqlConnectionScope:
    """A provider's hold on an engine: one pooled connection, taken on first use.

    Calls on it take turns (a driver connection runs one statement at a time), and a connection
    left in an unknown state by an error is dropped, so the next call starts on a fresh one.
    A `transaction` block keeps the turn until it ends: calls made by the block's code (and by
    tasks it starts) run inside it, one at a time; everyone else's wait for its end.
    """

    def __init__(self, engine: SqlEngine, cursor_secret: bytes) -> None:
        self._engine = engine
        self.cursor_secret = cursor_secret
        self._connection: AsyncConnection | None = None
        self._turn = asyncio.Lock()
        self._closed = False
        # The open block: a token per level (the block, then each nested block open in it).
        # Calls inside it take turns under `_inside`, and only code inside the innermost open
        # level may run: a sibling task waits until a nested block it is not part of ends.
        self._levels: list[object] = []
        self._inside = asyncio.Condition()
        self._savepoints = itertools.count(1)
        self._broken: ToolkitError | None = None  # why the block can no longer commit
        self._created: list[Table] = []  # tables the block created: ready once it commits

    def _in_block(self) -> bool:
        return bool(self._levels) and self._levels[0] in _OPEN.get()

    def _may_run(self) -> bool:
        """Whether the running code is inside the innermost open level (or the block ended)."""
        return not self._levels or self._levels[-1] in _OPEN.get()

    @asynccontextmanager
    async def using(
        self, tables: Sequence[Table], subject: Subject, *, transaction: bool = False
    ) -> AsyncIterator[AsyncConnection]:
        """The connection for one call on ``subject``'s ``tables``; driver errors translated.

        ``transaction``: the call's statements are one unit (inside a block, a savepoint)."""
        if self._in_block():
            async with self._inside:
                await self._inside.wait_for(self._may_run)
                connection = await self._block_connection(tables, subject)
                if transaction:
                    async with (
                        self._savepoint(connection, subject, recovers=False),
                        self._block_errors(subject),
                    ):
                        yield connection
                else:
                    async with self._block_errors(subject):
                        yield connection
            return
        async with self._turn:
            try:
                connection = await self._connection_for(tables)
                if transaction:
                    async with self._begun(connection, (self._engine.dialect.begin,)):
                        yield connection
                else:
                    yield connection
            except BaseException as exc:
                error = await self._failed(subject, exc)
                if error is exc:
                    raise
                raise error from exc

    async def fetch(
        self,
        tables: Sequence[Table],
        subject: Subject,
        statement: Executable,
        params: dict[str, Any],
        *,
        prebuilt: bool = False,
    ) -> Sequence[Sequence[Any]]:
        """The rows of one autocommitted statement: `using` without its generator's cost, for
        the calls that run one statement (most of them). ``prebuilt``: one of the repository's
        own statements (`_statements`), run on the driver's cursor (`_direct`)."""
        direct = self._engine.direct.get(statement, params) if prebuilt else None
        if self._levels and self._in_block():
            async with self._inside:
                await self._inside.wait_for(self._may_run)
                connection = await self._block_connection(tables, subject)
                async with self._block_errors(subject):
                    return await afetch_rows(connection, direct, statement, params)
        async with self._turn:
            try:
                connection = await self._connection_for(tables)
                return await afetch_rows(connection, direct, statement, params)
            except BaseException as exc:
                error = await self._failed(subject, exc)
                if error is exc:
                    raise
                raise error from exc

    async def run(
        self, connection: AsyncConnection, statement: Executable, params: dict[str, Any]
    ) -> Sequence[Sequence[Any]]:
        """The rows of one of the repository's own statements on ``connection`` (from `using`)."""
        return await afetch_rows(
            connection, self._engine.direct.get(statement, params), statement, params
        )

    def refused(self, error: ToolkitError) -> ToolkitError:
        """``error``, a write refused after it reached the database (a missing row, a stale
        version): inside a block it ends the unit, as a refusal by the database itself does."""
        if self._in_block() and self._broken is None:
            self._broken = error
        return error

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """A unit of work over the calls of the code inside the block (and of the tasks it
        starts): committed when the block ends, rolled back when it raises.

        A write refused inside the block (by a constraint, a missing row, a stale version, a
        lost connection) ends the unit: later calls in it raise, and so does its end, after
        rolling back. A block inside a block is a savepoint: a failure inside it undoes only its
        own statements, and the outer block goes on.
        """
        if self._in_block():
            async with self._nested():
                yield
            return
        async with self._turn:
            level = object()
            self._levels = [level]
            inside = _OPEN.set((*_OPEN.get(), level))
            try:
                try:
                    connection = await self._connection_for(())
                    await connection.exec_driver_sql(self._engine.dialect.begin)
                except BaseException as exc:
                    error = await self._failed(_BLOCK, exc)
                    if error is exc:
                        raise
                    raise error from exc
                try:
                    yield
                except BaseException:
                    await self._end("ROLLBACK")
                    raise
                if self._broken is not None:
                    await self._end("ROLLBACK")
                    raise self._broken
                await self._end("COMMIT")
                self._engine.mark_ready(self._created)
            finally:
                _OPEN.reset(inside)
                self._levels, self._broken, self._created = [], None, []
                async with self._inside:  # tasks of the block still waiting: it is over
                    self._inside.notify_all()

    @asynccontextmanager
    async def _nested(self) -> AsyncIterator[None]:
        """A nested block: a savepoint, and a level that sibling tasks wait behind."""
        level = object()
        async with self._inside:
            await self._inside.wait_for(self._may_run)
            connection = await self._block_connection((), _BLOCK)
            name = f"toolkit_{next(self._savepoints)}"
            async with self._block_errors(_BLOCK):
                await connection.exec_driver_sql(f"SAVEPOINT {name}")
            self._levels.append(level)
        inside = _OPEN.set((*_OPEN.get(), level))
        try:
            yield
            if self._broken is not None:  # a failure inside, caught there: undo it here
                raise self._broken
        except BaseException:
            async with self._inside:
                await self._undo(connection, name, recovers=True)
                self._levels.remove(level)
                self._inside.notify_all()
            raise
        else:
            async with self._inside:
                self._levels.remove(level)
                self._inside.notify_all()
                async with self._block_errors(_BLOCK):
                    await connection.exec_driver_sql(f"RELEASE SAVEPOINT {name}")
        finally:
            _OPEN.reset(inside)

    async def _end(self, statement: str) -> None:
        """COMMIT or ROLLBACK the block; a failed COMMIT is raised as the toolkit's error (the
        server rolled back, or the connection is gone and the server will)."""
        connection = self._connection
        if connection is None:  # lost inside the block: the server rolled it back
            return
        try:
            await connection.exec_driver_sql(statement)
        except BaseException as exc:
            await self._discard()
            if statement == "ROLLBACK" and isinstance(exc, Exception):
                return  # the block's own error, raised by the caller, says more
            if isinstance(exc, DRIVER_ERRORS):
                raise translate_error(self._engine.dialect, self._engine.url, _BLOCK, exc) from exc
            raise

    async def _block_connection(self, tables: Sequence[Table], subject: Subject) -> AsyncConnection:
        """The block's connection, its ``tables`` created inside the block when missing."""
        if self._broken is not None:
            raise ToolkitError(
                f"{subject.name} call refused: the transaction failed earlier ({self._broken}); "
                "nothing of it will be written: leave the block"
            )
        connection = self._connection
        if connection is None:
            raise ToolkitError("the transaction's connection is gone")
        missing = self._engine.missing(tables)
        if missing and not set(missing) <= set(self._created):
            async with self._block_errors(subject):
                for statement in self._engine.dialect.ddl_begin[1:]:
                    await connection.exec_driver_sql(statement)  # the cross-process DDL lock
                await self._engine.create_tables(connection, missing)
            self._created.extend(missing)
        return connection

    @asynccontextmanager
    async def _block_errors(self, subject: Subject) -> AsyncIterator[None]:
        """Inside a block: driver errors translated, and the block marked as failed by them."""
        try:
            yield
        except BaseException as exc:
            error: BaseException = exc
            if isinstance(exc, DRIVER_ERRORS):
                error = translate_error(self._engine.dialect, self._engine.url, subject, exc)
            if isinstance(exc, DRIVER_ERRORS) or not isinstance(exc, Exception):
                # The server's transaction is aborted (or the connection's state unknown).
                self._broken = (
                    error
                    if isinstance(error, ToolkitError)
                    else ToolkitError(f"{subject.name} call was interrupted")
                )
                if not isinstance(exc, CONNECTION_INTACT):
                    await self._discard()
            if error is exc:
                raise
            raise error from exc

    @asynccontextmanager
    async def _savepoint(
        self, connection: AsyncConnection, subject: Subject, *, recovers: bool
    ) -> AsyncIterator[None]:
        """A savepoint around one call's statements inside the block: whatever raises in it is
        undone, and only that (the block stays failed when the database refused: it would have
        ended a `create` just the same)."""
        name = f"toolkit_{next(self._savepoints)}"
        async with self._block_errors(subject):
            await connection.exec_driver_sql(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            await self._undo(connection, name, recovers=recovers)
            raise
        async with self._block_errors(subject):
            await connection.exec_driver_sql(f"RELEASE SAVEPOINT {name}")

    async def _undo(self, connection: AsyncConnection, name: str, *, recovers: bool) -> None:
        """Roll back to savepoint ``name``; ``recovers``: the block is as it was before it."""
        if self._connection is not connection:
            return  # the connection is gone, and the block with it
        broken = self._broken
        try:
            await connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {name}")
            await connection.exec_driver_sql(f"RELEASE SAVEPOINT {name}")
            if recovers:
                self._broken = None
        except BaseException:
            self._broken = broken or ToolkitError("the transaction's savepoint failed")
            await self._discard()

    async def _failed(self, subject: Subject, exc: BaseException) -> BaseException:
        """What to raise for ``exc`` (the toolkit's error for a driver's, else ``exc`` itself);
        the connection is dropped when the error may have left it in an unknown state."""
        if not isinstance(exc, CONNECTION_INTACT):
            await self._discard()
        if isinstance(exc, DRIVER_ERRORS):
            return translate_error(self._engine.dialect, self._engine.url, subject, exc)
        return exc

    async def _connection_for(self, tables: Sequence[Table]) -> AsyncConnection:
        if self._closed:
            raise ToolkitError("this repository's provider is closed; open a new provider")
        if self._connection is None:
            self._connection = await self._engine.connect()
        if self._engine.missing(tables):
            await self._create_tables(self._connection, tables)
        return self._connection

    async def _create_tables(self, connection: AsyncConnection, tables: Sequence[Table]) -> None:
        # On the scope's own connection (a second one could wait forever on a small pool), in a
        # transaction that the dialect serializes across processes: concurrent first uses of a
        # fresh database must not race to create the same table.
        async with self._engine.lock:
            missing = self._engine.missing(tables)
            if missing:
                async with self._begun(connection, self._engine.dialect.ddl_begin):
                    await self._engine.create_tables(connection, missing)
                self._engine.mark_ready(missing)

    @asynccontextmanager
    async def _begun(
        self, connection: AsyncConnection, begin: Sequence[str]
    ) -> AsyncIterator[None]:
        # The connection autocommits single statements; a transaction is opened explicitly,
        # which every driver here accepts in autocommit mode.
        for statement in begin:
            await connection.exec_driver_sql(statement)
        try:
            yield
            await connection.exec_driver_sql("COMMIT")
        except BaseException:
            try:
                await connection.exec_driver_sql("ROLLBACK")
            except Exception:
                await self._discard()  # broken: the block's error is the one to report
            raise

    async def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._engine.release(connection, broken=True)

    @property
    def dialect(self) -> SqlDialect:
        return self._engine.dialect

    async def close(self) -> None:
        """Give the connection back to the pool; the scope serves no further calls."""
        self._closed = True
        connection, self._connection = self._connection, None
        if connection is not None:
            await self._engine.release(connection)
