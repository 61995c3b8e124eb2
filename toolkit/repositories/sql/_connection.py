"""A provider's hold on a SQL engine: one pooled connection, and the error funnel around it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Executable, Row, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from toolkit.errors import ToolkitError
from toolkit.repositories.sql._dialect import SqlDialect
from toolkit.repositories.sql._engines import SqlEngine
from toolkit.repositories.sql._errors import CONNECTION_INTACT, DRIVER_ERRORS, translate_error


class SqlConnectionScope:
    """A provider's hold on an engine: one pooled connection, taken on first use.

    Calls on it take turns (a driver connection runs one statement at a time), and a connection
    left in an unknown state by an error is dropped, so the next call starts on a fresh one.
    """

    def __init__(self, engine: SqlEngine, cursor_secret: bytes) -> None:
        self._engine = engine
        self.cursor_secret = cursor_secret
        self._connection: AsyncConnection | None = None
        self._turn = asyncio.Lock()
        self._closed = False

    @asynccontextmanager
    async def using(
        self, tables: Sequence[Table], model_name: str, *, transaction: bool = False
    ) -> AsyncIterator[AsyncConnection]:
        """The connection for one call on ``model_name``'s ``tables``; driver errors translated."""
        async with self._turn:
            try:
                connection = await self._connection_for(tables)
                if transaction:
                    async with self._begun(connection, ("BEGIN",)):
                        yield connection
                else:
                    yield connection
            except BaseException as exc:
                error = await self._failed(model_name, exc)
                if error is exc:
                    raise
                raise error from exc

    async def fetch(
        self,
        tables: Sequence[Table],
        model_name: str,
        statement: Executable,
        params: dict[str, Any],
    ) -> Sequence[Row[Any]]:
        """The rows of one autocommitted statement: `using` without its generator's cost, for
        the calls that run one statement (most of them)."""
        async with self._turn:
            try:
                connection = await self._connection_for(tables)
                result = await connection.execute(statement, params)
                return result.all()
            except BaseException as exc:
                error = await self._failed(model_name, exc)
                if error is exc:
                    raise
                raise error from exc

    async def _failed(self, model_name: str, exc: BaseException) -> BaseException:
        """What to raise for ``exc`` (the toolkit's error for a driver's, else ``exc`` itself);
        the connection is dropped when the error may have left it in an unknown state."""
        if not isinstance(exc, CONNECTION_INTACT):
            await self._discard()
        if isinstance(exc, DRIVER_ERRORS):
            return translate_error(self._engine.dialect, self._engine.url, model_name, exc)
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
