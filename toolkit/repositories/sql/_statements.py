"""The statements of a SQL repository, built once per model, and the mapping of rows to instances.

Building a ``select()`` costs more than running it on a fast driver, so each model's statements
are made once here; SQLAlchemy then compiles each once per engine and caches the result.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic

from sqlalchemy import (
    Column,
    Dialect,
    Float,
    Numeric,
    Row,
    Select,
    Table,
    bindparam,
    delete,
    insert,
    type_coerce,
)
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.sql.dml import ReturningDelete, ReturningInsert, ReturningUpdate
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine

from toolkit._model import ModelFacts, ModelT, model_facts
from toolkit._rows import build_instance, build_many, build_taking, to_utc
from toolkit._versioned import next_version
from toolkit.repositories.sql._dialect import VERSION_PARAM
from toolkit.repositories.sql._integrity import Subject

__all__ = ["SqlStatements", "sql_statements"]

_PK_PARAM = "toolkit_pk"  # a bind name no column can clash with


@dataclass(frozen=True, slots=True)
class SqlStatements(Generic[ModelT]):
    """Prepared statements and row mapping for one model."""

    facts: ModelFacts[ModelT]
    subject: Subject  # what its errors name
    tables: tuple[Table, ...]
    names: tuple[str, ...]  # field names, in the order of the columns selected
    keys: tuple[tuple[str, str], ...]  # (field name, column key) pairs, for parameters
    pk_key: str
    database_defaults: frozenset[str]  # fields whose None lets the database fill the column
    datetime_positions: tuple[int, ...]
    float_positions: tuple[int, ...]
    pk_column: Column[Any]
    selected: tuple[ColumnElement[Any], ...]  # what SELECT and RETURNING read, in `names` order
    get: Select[Any]
    select_all: Select[Any]  # no order: queries add theirs
    list_all: Select[Any]
    insert: ReturningInsert[Any]
    insert_many: ReturningInsert[Any]
    insert_many_unordered: ReturningInsert[Any]
    update: ReturningUpdate[Any]  # on a `Versioned` model, at the version bound as VERSION_PARAM
    delete: ReturningDelete[Any]
    locked_get: Select[Any]  # `get`, locking the row until the transaction ends (PostgreSQL)
    version_key: str | None  # the version column of a `Versioned` model
    version_of: Select[Any]  # the row's version (`Versioned` models)
    delete_versioned: ReturningDelete[Any]  # `delete` at the version bound as VERSION_PARAM

    def pk_params(self, id: object) -> dict[str, Any]:
        return {_PK_PARAM: self.facts.coerce_pk(id)}

    def insert_params(self, validated: ModelT) -> dict[str, Any]:
        values = validated.__dict__
        params = {
            key: values[name]
            for name, key in self.keys
            if values.get(name) is not None or name not in self.database_defaults
        }
        if self.version_key is not None:
            params[self.version_key] = 1  # a row's first version, whatever the copy said
        return params

    def update_params(self, validated: ModelT) -> dict[str, Any]:
        """The parameters of `update` (on a `Versioned` model, at the copy's version)."""
        values = validated.__dict__
        params = {key: values.get(name) for name, key in self.keys}
        params[_PK_PARAM] = params.pop(self.pk_key)
        if self.version_key is not None:
            current: int = values["version"]
            params[VERSION_PARAM] = current
            params[self.version_key] = next_version(self.facts.name, current)
        return params

    def patch_params(
        self, id: object, merged: ModelT, names: Iterable[str], version: int | None
    ) -> dict[str, Any]:
        """The parameters of a patch of fields ``names`` to their values in ``merged`` (the
        UPDATE sets only the columns given); the row is at ``version`` on a `Versioned` model."""
        values = merged.__dict__
        column_key = self.facts.column_of
        params = {column_key[name].key: values.get(name) for name in names}
        params[_PK_PARAM] = id
        if self.version_key is not None and version is not None:
            params[VERSION_PARAM] = version
            params[self.version_key] = next_version(self.facts.name, version)
        return params

    def in_input_order(
        self, params: Sequence[dict[str, Any]], rows: Sequence[Row[Any]]
    ) -> list[Row[Any]]:
        """``rows`` returned by one multi-row INSERT, put in the order of ``params``.

        For dialects whose RETURNING order is not promised: given keys are matched, generated
        ones are ascending in insertion order (SQLite allocates them one row after the other).
        """
        position = self.names.index(self.facts.pk_name)
        if self.pk_key not in params[0]:
            return sorted(rows, key=lambda row: row[position])
        order = {param[self.pk_key]: index for index, param in enumerate(params)}
        return sorted(rows, key=lambda row: order[row[position]])

    def from_rows(self, rows: Sequence[Sequence[Any]]) -> list[ModelT]:
        """The instances of ``rows``, in order (a list of rows is emptied meanwhile)."""
        if isinstance(rows, list):
            return build_taking(self.from_row, rows)
        return build_many(self.from_row, rows)

    def from_row(self, row: Sequence[Any]) -> ModelT:
        if not self.datetime_positions and not self.float_positions:
            return build_instance(self.facts, dict(zip(self.names, row, strict=True)))
        values = list(row)
        for position in self.datetime_positions:
            value = values[position]
            if value is not None:
                values[position] = to_utc(value)
        for position in self.float_positions:
            # SQLite's RETURNING gives a whole-numbered REAL as an int (before column affinity).
            value = values[position]
            if type(value) is int:
                values[position] = float(value)
        return build_instance(self.facts, dict(zip(self.names, values, strict=True)))


@functools.cache
def sql_statements(model: type[ModelT]) -> SqlStatements[ModelT]:
    """The statements for ``model`` (made once per class)."""
    facts = model_facts(model)
    table = facts.table
    columns = facts.columns
    pk = facts.pk_column
    where_pk = pk == bindparam(_PK_PARAM)
    version = facts.column_of["version"] if facts.versioned else None
    at_version = [] if version is None else [version == bindparam(VERSION_PARAM)]
    selected = tuple(
        type_coerce(column, _ExactDecimal()).label(column.key)
        if facts.kinds[name] is Decimal and isinstance(column.type, Numeric)
        else column
        for name, column in zip(facts.field_names, facts.columns, strict=True)
    )
    return SqlStatements(
        facts=facts,
        subject=Subject(facts.name, table),
        tables=_with_referenced_tables(table),
        names=facts.field_names,
        keys=tuple((name, col.key) for name, col in zip(facts.field_names, columns, strict=True)),
        pk_key=pk.key,
        database_defaults=frozenset(
            name
            for name, column in zip(facts.field_names, columns, strict=True)
            if column is pk or column.server_default is not None or column.default is not None
        ),
        datetime_positions=tuple(
            position
            for position, name in enumerate(facts.field_names)
            if name in facts.datetime_fields
        ),
        float_positions=tuple(
            position
            for position, name in enumerate(facts.field_names)
            if facts.kinds[name] is float
        ),
        pk_column=pk,
        selected=selected,
        get=sa_select(*selected).where(where_pk),
        select_all=sa_select(*selected),
        list_all=sa_select(*selected).order_by(pk),
        insert=insert(table).returning(*selected),
        insert_many=insert(table).returning(*selected, sort_by_parameter_order=True),
        insert_many_unordered=insert(table).returning(*selected),
        update=sa_update(table).where(where_pk, *at_version).returning(*selected),
        delete=delete(table).where(where_pk).returning(pk),
        locked_get=sa_select(*selected).where(where_pk).with_for_update(),
        version_key=None if version is None else version.key,
        version_of=sa_select(version if version is not None else pk).where(where_pk),
        delete_versioned=delete(table).where(where_pk, *at_version).returning(pk),
    )


class _ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal column read back exactly. SQLite keeps a double, which SQLAlchemy turns into a
    Decimal of ten places (1E-30 would read as 0E-10); the double's shortest text is exact for
    every Decimal the toolkit stores (`toolkit._values`). Elsewhere the column's own type."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Float())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        if isinstance(value, int | float):
            # SQLite keeps a whole double that fits 64 bits as an INTEGER: 1.15292150461E+18
            # comes back as 1152921504609999872, the double's exact value, not the Decimal's.
            return Decimal(repr(float(value)))
        return Decimal(value)


def _with_referenced_tables(table: Table) -> tuple[Table, ...]:
    """``table`` and every table its foreign keys reach: what must exist before it is used."""
    seen: dict[str, Table] = {}
    pending = [table]
    while pending:
        current = pending.pop()
        if current.key not in seen:
            seen[current.key] = current
            pending.extend(fk.column.table for fk in current.foreign_keys)
    return tuple(seen.values())
