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

from sqlalchemy import Executable, Row, Select, Table, delete, func, literal, select
from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from toolkit.engines import AsyncSqlEngine
from toolkit.errors import NotFoundError, ToolkitError
from toolkit.query import (
    Order,
    OrderBy,
    Page,
    Where,
    after,
    check_window,
    decode_cursor,
    page_of,
    translate,
    translate_order,
)
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.sql_dialect import SqlDialect, translate_error
from toolkit.repositories.sql_query import SqlQuery
from toolkit.repositories.sql_statements import SqlStatements, sql_statements
from toolkit.schema import ModelT, PrimaryKey, keys_of, validate_all, validate_for_write

# What a driver or SQLAlchemy raises: asyncpg raises OSError and TimeoutError unwrapped on
# connect; drivers raise TypeError, ValueError or OverflowError unwrapped for a value they
# cannot bind (sqlite3: an int beyond 64 bits; psycopg2: a NUL character).
_DRIVER_ERRORS = (SQLAlchemyError, OSError, TimeoutError, TypeError, ValueError, OverflowError)
# Errors after which an autocommitting connection is as good as before: the statement failed,
# the connection did not. After any other error (a timeout, a cancellation, a lost server) the
# connection's state is unknown, and the scope drops it.
_CONNECTION_INTACT = (
    IntegrityError,
    DataError,
    ProgrammingError,
    TypeError,
    ValueError,
    ToolkitError,  # raised by the toolkit itself in a call, e.g. a row missing from a batch
)


class SqlConnectionScope:
    """A provider's hold on an engine: one pooled connection, taken on first use.

    Calls on it take turns (a driver connection runs one statement at a time), and a connection
    left in an unknown state by an error is dropped, so the next call starts on a fresh one.
    """

    def __init__(self, engine: AsyncSqlEngine, cursor_secret: bytes) -> None:
        self._engine = engine
        self.cursor_secret = cursor_secret
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
                error = await self._failed(model, exc)
                if error is exc:
                    raise
                raise error from exc

    async def fetch(
        self, tables: Sequence[Table], model: str, statement: Executable, params: dict[str, Any]
    ) -> Sequence[Row[Any]]:
        """The rows of one autocommitted statement: `using` without its generator's cost, for
        the calls that run one statement (most of them)."""
        async with self._turn:
            try:
                connection = await self._connection_for(tables)
                result = await connection.execute(statement, params)
                return result.all()
            except BaseException as exc:
                error = await self._failed(model, exc)
                if error is exc:
                    raise
                raise error from exc

    async def _failed(self, model: str, exc: BaseException) -> BaseException:
        """What to raise for ``exc`` (the toolkit's error for a driver's, else ``exc`` itself);
        the connection is dropped when the error may have left it in an unknown state."""
        if not isinstance(exc, _CONNECTION_INTACT):
            await self._discard()
        if isinstance(exc, _DRIVER_ERRORS):
            return translate_error(self._engine.dialect, self._engine.url, model, exc)
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


class SqlRepository(BaseRepository[ModelT]):
    """`BaseRepository` on a SQL database."""

    def __init__(self, model: type[ModelT], scope: SqlConnectionScope) -> None:
        self.model = model
        self._sql: SqlStatements[ModelT] = sql_statements(model)
        self._scope = scope
        self._queries: dict[str, SqlQuery] = {}

    async def _fetch(self, statement: Executable, params: dict[str, Any]) -> Sequence[Row[Any]]:
        return await self._scope.fetch(self._sql.tables, self._sql.info.name, statement, params)

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

    async def update_many(self, models: Iterable[ModelT]) -> builtins.list[ModelT]:
        validated = validate_all(self._sql.info, models)
        rows: builtins.list[Row[Any]] = []
        if not validated:
            return []
        name = self._sql.info.name
        async with self._scope.using(self._sql.tables, name, transaction=True) as connection:
            for model in validated:
                result = await connection.execute(self._sql.update, self._sql.update_params(model))
                found = result.all()
                if not found:  # inside the transaction: nothing of the batch stays written
                    raise NotFoundError(name, getattr(model, self._sql.info.pk_name))
                rows.extend(found)
        return self._sql.from_rows(rows)

    async def upsert(self, model: ModelT) -> ModelT:
        validated = validate_for_write(self._sql.info, model)
        params = self._sql.insert_params(validated)
        if self._sql.pk_key not in params:
            statement: Executable = self._sql.insert  # no key yet: nothing to update
        else:
            statement = self._scope.dialect.upsert(
                self._sql.info.table, list(params), self._sql.pk_column, self._sql.info.columns
            )
        rows = await self._fetch(statement, params)
        return self._sql.from_row(rows[0])

    async def delete(self, id: PrimaryKey) -> bool:
        rows = await self._fetch(self._sql.delete, self._sql.pk_params(id))
        return bool(rows)

    async def delete_many(self, ids: Iterable[PrimaryKey]) -> int:
        keys = list(dict.fromkeys(self._sql.info.coerce_pk(id) for id in keys_of(ids)))
        if not keys:
            return 0
        statement = delete(self._sql.info.table).where(self._sql.pk_column.in_(keys))
        rows = await self._fetch(statement.returning(self._sql.pk_column), {})
        return len(rows)

    async def delete_where(self, *where: Where) -> int:
        statement = delete(self._sql.info.table).where(*self._filters(where))
        rows = await self._fetch(statement.returning(self._sql.pk_column), {})
        return len(rows)

    async def list(
        self,
        *where: Where,
        order_by: OrderBy = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> builtins.list[ModelT]:
        if not where and order_by is None and limit is None and not offset:
            return self._sql.from_rows(await self._fetch(self._sql.list_all, {}))
        check_window(limit, offset)
        statement = self._select(where, translate_order(self._sql.info, order_by))
        if limit is not None:
            statement = statement.limit(limit)
        if offset:
            statement = statement.offset(offset)
        return self._sql.from_rows(await self._fetch(statement, {}))

    async def first(self, *where: Where, order_by: OrderBy = None) -> ModelT | None:
        found = await self.list(*where, order_by=order_by, limit=1)
        return found[0] if found else None

    async def count(self, *where: Where) -> int:
        statement = select(func.count()).select_from(self._sql.info.table)
        rows = await self._fetch(statement.where(*self._filters(where)), {})
        return int(rows[0][0])

    async def exists(self, *where: Where) -> bool:
        statement = select(literal(1)).select_from(self._sql.info.table)
        rows = await self._fetch(statement.where(*self._filters(where)).limit(1), {})
        return bool(rows)

    async def page(
        self,
        *where: Where,
        order_by: OrderBy = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[ModelT]:
        check_window(limit, 0, page=True)
        info = self._sql.info
        orders = translate_order(info, order_by)
        statement = self._select(where, orders)
        if cursor is not None:
            position = decode_cursor(info, orders, cursor, self._scope.cursor_secret)
            statement = statement.where(self._query().where(after(orders, position)))
        rows = await self._fetch(statement.limit(limit + 1), {})
        items = self._sql.from_rows(rows)
        return page_of(info, orders, items, limit, self._scope.cursor_secret)

    def _query(self) -> SqlQuery:
        query = self._queries.get(self._scope.dialect.name)
        if query is None:
            query = self._queries[self._scope.dialect.name] = SqlQuery(
                self._sql.info, self._scope.dialect
            )
        return query

    def _filters(self, where: Sequence[Any]) -> builtins.list[Any]:
        """The clauses of ``where``: the portable subset with its one meaning, the rest as given
        (SQL runs more than the subset)."""
        query = self._query()
        conditions = translate(self._sql.info, where)
        return [
            item if condition is None else query.where(condition)
            for item, condition in zip(where, conditions, strict=True)
        ]

    def _select(self, where: Sequence[Any], orders: Sequence[Order]) -> Select[Any]:
        statement = self._sql.select_all.where(*self._filters(where))
        return statement.order_by(*self._query().order_by(orders))
