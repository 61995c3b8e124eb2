"""The SQL repository: one implementation on SQLAlchemy Core for PostgreSQL and SQLite.

Each call is one autocommitted statement (``INSERT/UPDATE/DELETE ... RETURNING`` or a
``SELECT``), so it is atomic without a BEGIN/COMMIT round trip. The statements are built once
per model (`sql_statements`), and rows become model instances without a second validation.
The ORM's session, identity map and unit of work stay off these paths.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from itertools import groupby
from typing import Any

from sqlalchemy import Executable, Row, Table
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from toolkit.engines import AsyncSqlEngine
from toolkit.errors import NotFoundError, ToolkitError
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.sql_dialect import SqlDialect, translate_error
from toolkit.repositories.sql_statements import SqlStatements, sql_statements
from toolkit.schema import ModelT, PrimaryKey, validate_all, validate_for_write

# What a driver or SQLAlchemy raises: asyncpg raises OSError and TimeoutError unwrapped on
# connect; drivers raise TypeError, ValueError or OverflowError unwrapped for a value they
# cannot bind (sqlite3: an int beyond 64 bits; psycopg2: a NUL character).
_DRIVER_ERRORS = (SQLAlchemyError, OSError, TimeoutError, TypeError, ValueError, OverflowError)
# Errors after which an autocommitting connection is as good as before: the statement failed,
# the connection did not. After any other error (a timeout, a cancellation, a lost server) the
# connection's state is unknown, and the scope drops it.
_CONNECTION_INTACT = (IntegrityError, DataError, ProgrammingError, TypeError, ValueError)


class SqlConnectionScope:
    """A provider's hold on an engine: one pooled connection, taken on first use.

    Calls on it take turns (a driver connection runs one statement at a time), and a connection
    left in an unknown state by an error is dropped, so the next call starts on a fresh one.
    """

    def __init__(self, engine: AsyncSqlEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._turn = asyncio.Lock()
        self._closed = False

    @asynccontextmanager
    async def using(
        self, tables: Sequence[Table], model: str, *, transaction: bool = False
    ) -> AsyncIterator[AsyncConnection]:
        """The connection for one call on ``model``'s ``tables``; driver errors translated."""
        async with self._turn:
            try:
                connection = await self._connection_for(tables)
                if transaction:
                    async with self._begun(connection, ("BEGIN",)):
                        yield connection
                else:
                    yield connection
            except BaseException as exc:
                if not isinstance(exc, _CONNECTION_INTACT):
                    await self._discard()
                if isinstance(exc, _DRIVER_ERRORS):
                    raise translate_error(
                        self._engine.dialect, self._engine.url, model, exc
                    ) from exc
                raise

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


class SqlRepository(BaseRepository[ModelT]):
    """`BaseRepository` on a SQL database."""

    def __init__(self, model: type[ModelT], scope: SqlConnectionScope) -> None:
        self.model = model
        self._sql: SqlStatements[ModelT] = sql_statements(model)
        self._scope = scope

    async def _fetch(self, statement: Executable, params: dict[str, Any]) -> Sequence[Row[Any]]:
        async with self._scope.using(self._sql.tables, self._sql.info.name) as connection:
            result = await connection.execute(statement, params)
            return result.all()

    async def get(self, id: PrimaryKey) -> ModelT | None:
        rows = await self._fetch(self._sql.get, self._sql.pk_params(id))
        return self._sql.from_row(rows[0]) if rows else None

    async def get_one(self, id: PrimaryKey) -> ModelT:
        found = await self.get(id)
        if found is None:
            raise NotFoundError(self._sql.info.name, id)
        return found

    async def create(self, model: ModelT) -> ModelT:
        validated = validate_for_write(self._sql.info, model)
        rows = await self._fetch(self._sql.insert, self._sql.insert_params(validated))
        return self._sql.from_row(rows[0])

    async def create_many(self, models: Iterable[ModelT]) -> builtins.list[ModelT]:
        validated = validate_all(self._sql.info, models)
        if not validated:
            return []
        rows: builtins.list[Row[Any]] = []
        name = self._sql.info.name
        async with self._scope.using(self._sql.tables, name, transaction=True) as connection:
            # One executemany per run of rows that give the same columns (a generated key
            # leaves its column out); SQLAlchemy batches each into multi-row INSERTs.
            params = [self._sql.insert_params(model) for model in validated]
            for _, group in groupby(params, key=lambda row: row.keys()):
                run = list(group)
                if self._scope.dialect.orders_bulk_returning:
                    result = await connection.execute(self._sql.insert_many, run)
                    rows.extend(result.all())
                else:
                    result = await connection.execute(self._sql.insert_many_unordered, run)
                    rows.extend(self._sql.in_input_order(run, result.all()))
        return self._sql.from_rows(rows)

    async def update(self, model: ModelT) -> ModelT:
        validated = validate_for_write(self._sql.info, model)
        params = self._sql.update_params(validated)
        rows = await self._fetch(self._sql.update, params)
        if not rows:
            raise NotFoundError(self._sql.info.name, getattr(model, self._sql.info.pk_name))
        return self._sql.from_row(rows[0])

    async def delete(self, id: PrimaryKey) -> bool:
        rows = await self._fetch(self._sql.delete, self._sql.pk_params(id))
        return bool(rows)

    async def list(self) -> builtins.list[ModelT]:
        rows = await self._fetch(self._sql.list_all, {})
        return self._sql.from_rows(rows)
