"""The SQL repository: one implementation on SQLAlchemy Core for PostgreSQL and SQLite.

Each call is one autocommitted statement (``INSERT/UPDATE/DELETE ... RETURNING`` or a
``SELECT``), so it is atomic without a BEGIN/COMMIT round trip. The statements are built once
per model (`sql_statements`), the query clauses once per model and dialect (`sql_clauses`), and
rows become model instances without a second validation. The ORM's session, identity map and
unit of work stay off these paths.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping, Sequence
from itertools import groupby
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Executable, Row, Select, delete, func, literal, select

from toolkit._model import ModelT, PrimaryKey, keys_of
from toolkit._relations import Load
from toolkit._rows import merge_patch, patch_changes, validate_all, validate_for_write
from toolkit._versioned import checked_version, next_version
from toolkit.errors import NotFoundError, StaleVersionError, ToolkitError, ValidationError
from toolkit.query._cursor import after, check_window, decode_cursor, page_of
from toolkit.query._translate import translate, translate_order
from toolkit.query._tree import InSet, Order, OrderBy, Page, Where
from toolkit.repositories._related import load_related
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.sql._clauses import SqlClauses, sql_clauses
from toolkit.repositories.sql._connection import SqlConnectionScope
from toolkit.repositories.sql._dialect import VERSION_PARAM
from toolkit.repositories.sql._statements import SqlStatements, sql_statements


class SqlRepository(BaseRepository[ModelT]):
    """`BaseRepository` on a SQL database."""

    def __init__(self, model: type[ModelT], scope: SqlConnectionScope) -> None:
        self.model = model
        self._sql: SqlStatements[ModelT] = sql_statements(model)
        self._scope = scope
        self._clauses: SqlClauses = sql_clauses(model, scope.dialect)
        self._siblings: dict[type[Any], BaseRepository[Any]] = {}

    async def _fetch(
        self, statement: Executable, params: dict[str, Any]
    ) -> Sequence[Sequence[Any]]:
        """The rows of a statement built for this call."""
        return await self._scope.fetch(self._sql.tables, self._sql.subject, statement, params)

    async def _run(self, statement: Executable, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        """The rows of one of the model's prebuilt statements (`SqlStatements`)."""
        return await self._scope.fetch(
            self._sql.tables, self._sql.subject, statement, params, prebuilt=True
        )

    def _sibling(self, model: type[Any]) -> BaseRepository[Any]:
        """The repository of ``model`` on the same connection (for ``load=``)."""
        found = self._siblings.get(model)
        if found is None:
            found = self._siblings[model] = SqlRepository(model, self._scope)
        return found

    async def _loaded(self, found: builtins.list[ModelT], load: Load) -> builtins.list[ModelT]:
        await load_related(self._sql.facts, found, load, self._sibling)
        return found

    async def get(self, id: PrimaryKey, *, load: Load = ()) -> ModelT | None:
        rows = await self._run(self._sql.get, self._sql.pk_params(id))
        found = self._sql.from_row(rows[0]) if rows else None
        if load:
            await self._loaded([found] if found is not None else [], load)
        return found

    async def get_one(self, id: PrimaryKey, *, load: Load = ()) -> ModelT:
        found = await self.get(id, load=load)
        if found is None:
            raise NotFoundError(self._sql.facts.name, id)
        return found

    async def create(self, model: ModelT) -> ModelT:
        validated = validate_for_write(self._sql.facts, model)
        rows = await self._run(self._sql.insert, self._sql.insert_params(validated))
        return self._sql.from_row(rows[0])

    async def create_many(self, models: Iterable[ModelT]) -> builtins.list[ModelT]:
        validated = validate_all(self._sql.facts, models)
        if not validated:
            return []
        rows: builtins.list[Row[Any]] = []
        sql = self._sql
        async with self._scope.using(sql.tables, sql.subject, transaction=True) as connection:
            # One executemany per run of rows that give the same columns (a generated key
            # leaves its column out); SQLAlchemy batches each into multi-row INSERTs.
            params = [self._sql.insert_params(instance) for instance in validated]
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
        validated = validate_for_write(self._sql.facts, model)
        params = self._sql.update_params(validated)
        rows = await self._run(self._sql.update, params)
        if not rows:
            versioned = self._sql.version_key is not None
            current: Sequence[Sequence[Any]] = ()
            if versioned:
                current = await self._run(self._sql.version_of, params)
            raise self._refusal(validated, current)
        return self._sql.from_row(rows[0])

    def _refusal(self, validated: ModelT, current: Sequence[Sequence[Any]]) -> ToolkitError:
        """Why an UPDATE of ``validated`` found no row: none has its key, or (`Versioned`) the
        row is at another version (``current``: the row's version, read after). Inside a
        block, the refusal ends the unit, as it does on every backend."""
        facts = self._sql.facts
        id = validated.__dict__.get(facts.pk_name)
        if not current:
            return self._scope.refused(NotFoundError(facts.name, id))
        version = validated.__dict__["version"]
        return self._scope.refused(StaleVersionError(facts.name, id, version, current[0][0]))

    async def patch(self, id: PrimaryKey, changes: Mapping[str, object] | BaseModel) -> ModelT:
        facts = self._sql.facts
        fields, expected = patch_changes(facts, id, changes)
        key = self._sql.pk_params(id)
        sql = self._sql
        async with self._scope.using(sql.tables, sql.subject, transaction=True) as connection:
            # The row locked (SQLite: the database, from BEGIN IMMEDIATE) from read to write.
            rows = await self._scope.run(connection, self._sql.locked_get, key)
            if not rows:
                raise NotFoundError(facts.name, id)
            current = self._sql.from_row(rows[0])
            version = current.__dict__["version"] if facts.versioned else None
            if expected is not None and expected != version:
                raise StaleVersionError(facts.name, id, expected, version)
            if not fields:
                return current  # nothing to write
            merged = merge_patch(facts, current, fields)
            params = self._sql.patch_params(next(iter(key.values())), merged, fields, version)
            (row,) = await self._scope.run(connection, self._sql.update, params)
            return self._sql.from_row(row)

    async def update_many(self, models: Iterable[ModelT]) -> builtins.list[ModelT]:
        validated = validate_all(self._sql.facts, models)
        rows: builtins.list[Sequence[Any]] = []
        if not validated:
            return []
        sql = self._sql
        async with self._scope.using(sql.tables, sql.subject, transaction=True) as connection:
            versioned = self._sql.version_key is not None
            for instance in validated:
                params = self._sql.update_params(instance)
                found = await self._scope.run(connection, self._sql.update, params)
                if not found:  # inside the transaction: nothing of the batch stays written
                    current: Sequence[Sequence[Any]] = ()
                    if versioned:
                        current = await self._scope.run(connection, self._sql.version_of, params)
                    raise self._refusal(instance, current)
                rows.extend(found)
        return self._sql.from_rows(rows)

    async def upsert(self, model: ModelT) -> ModelT:
        validated = validate_for_write(self._sql.facts, model)
        params = self._sql.insert_params(validated)
        facts = self._sql.facts
        if self._sql.pk_key not in params:
            statement: Executable = self._sql.insert  # no key yet: nothing to update
        else:
            version = facts.column_of["version"] if facts.versioned else None
            statement = self._scope.dialect.upsert(
                facts.table, list(params), self._sql.pk_column, self._sql.selected, version
            )
            if version is not None:
                current = validated.__dict__["version"]
                next_version(facts.name, current)  # the version stored if the row exists
                params[VERSION_PARAM] = current
        rows = await self._fetch(statement, params)
        if not rows:  # a `Versioned` row at another version
            current = await self._run(
                self._sql.version_of, self._sql.pk_params(params[self._sql.pk_key])
            )
            raise self._refusal(validated, current)
        return self._sql.from_row(rows[0])

    async def delete(self, id: PrimaryKey, *, version: int | None = None) -> bool:
        if version is None:
            return bool(await self._run(self._sql.delete, self._sql.pk_params(id)))
        facts = self._sql.facts
        params = {
            **self._sql.pk_params(id),
            VERSION_PARAM: _version(facts.name, facts.versioned, version),
        }
        if await self._run(self._sql.delete_versioned, params):
            return True
        current = await self._run(self._sql.version_of, params)
        if not current:
            return False
        raise StaleVersionError(facts.name, id, version, current[0][0])

    async def delete_many(self, ids: Iterable[PrimaryKey]) -> int:
        keys = list(dict.fromkeys(self._sql.facts.coerce_pk(id) for id in keys_of(ids)))
        if not keys:
            return 0
        among = InSet(self._sql.facts.pk_name, tuple(keys), negated=False)
        statement = delete(self._sql.facts.table).where(self._clauses.where(among))
        rows = await self._fetch(statement.returning(self._sql.pk_column), {})
        return len(rows)

    async def delete_where(self, *where: Where) -> int:
        statement = delete(self._sql.facts.table).where(*self._filters(where))
        rows = await self._fetch(statement.returning(self._sql.pk_column), {})
        return len(rows)

    async def list(
        self,
        *where: Where,
        order_by: OrderBy = None,
        limit: int | None = None,
        offset: int = 0,
        load: Load = (),
    ) -> builtins.list[ModelT]:
        if not where and order_by is None and limit is None and not offset:
            found = self._sql.from_rows(await self._run(self._sql.list_all, {}))
            return await self._loaded(found, load) if load else found
        check_window(limit, offset)
        statement = self._select(where, translate_order(self._sql.facts, order_by))
        if limit is not None:
            statement = statement.limit(limit)
        if offset:
            statement = statement.offset(offset)
        found = self._sql.from_rows(await self._fetch(statement, {}))
        return await self._loaded(found, load) if load else found

    async def first(
        self, *where: Where, order_by: OrderBy = None, load: Load = ()
    ) -> ModelT | None:
        found = await self.list(*where, order_by=order_by, limit=1, load=load)
        return found[0] if found else None

    async def count(self, *where: Where) -> int:
        statement = select(func.count()).select_from(self._sql.facts.table)
        rows = await self._fetch(statement.where(*self._filters(where)), {})
        return int(rows[0][0])

    async def exists(self, *where: Where) -> bool:
        statement = select(literal(1)).select_from(self._sql.facts.table)
        rows = await self._fetch(statement.where(*self._filters(where)).limit(1), {})
        return bool(rows)

    async def page(
        self,
        *where: Where,
        order_by: OrderBy = None,
        limit: int = 50,
        cursor: str | None = None,
        load: Load = (),
    ) -> Page[ModelT]:
        check_window(limit, 0, page=True)
        facts = self._sql.facts
        orders = translate_order(facts, order_by)
        statement = self._select(where, orders)
        if cursor is not None:
            position = decode_cursor(facts, orders, cursor, self._scope.cursor_secret)
            statement = statement.where(self._clauses.where(after(orders, position)))
        rows = await self._fetch(statement.limit(limit + 1), {})
        items = self._sql.from_rows(rows)
        if load:
            await self._loaded(items, load)
        return page_of(facts, orders, items, limit, self._scope.cursor_secret)

    def _filters(self, where: Sequence[Any]) -> builtins.list[Any]:
        """The clauses of ``where``: the portable subset with its one meaning, the rest as given
        (SQL runs more than the subset)."""
        conditions = translate(self._sql.facts, where)
        return [
            item if condition is None else self._clauses.where(condition)
            for item, condition in zip(where, conditions, strict=True)
        ]

    def _select(self, where: Sequence[Any], orders: Sequence[Order]) -> Select[Any]:
        statement = self._sql.select_all.where(*self._filters(where))
        return statement.order_by(*self._clauses.order_by(orders))


def _version(model_name: str, versioned: bool, version: object) -> int:
    """``delete``'s ``version`` argument, checked: an integer, on a `Versioned` model."""
    if not versioned:
        raise ValidationError(f"{model_name} is not Versioned: delete takes no version")
    return checked_version(model_name, version)
