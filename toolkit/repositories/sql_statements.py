"""The statements of a SQL repository, built once per model, and the mapping of rows to instances.

Building a ``select()`` costs more than running it on a fast driver, so each model's statements
are made once here; SQLAlchemy then compiles each once per engine and caches the result.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic

from sqlalchemy import Column, Row, Select, Table, bindparam, delete, insert
from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.sql.dml import ReturningDelete, ReturningInsert, ReturningUpdate

from toolkit.schema import ModelInfo, ModelT, build_instance, model_info, to_utc

__all__ = ["SqlStatements", "sql_statements"]

_PK_PARAM = "toolkit_pk"  # a bind name no column can clash with
_GC_PAUSE_FROM = 100  # rows; below this the pause is not worth its bookkeeping


@dataclass(frozen=True, slots=True)
class SqlStatements(Generic[ModelT]):
    """Prepared statements and row mapping for one model."""

    info: ModelInfo[ModelT]
    tables: tuple[Table, ...]
    names: tuple[str, ...]
    datetime_positions: tuple[int, ...]
    get: Select[Any]
    list_all: Select[Any]
    insert: ReturningInsert[Any]
    insert_many: ReturningInsert[Any]
    insert_many_unordered: ReturningInsert[Any]
    update: ReturningUpdate[Any]
    delete: ReturningDelete[Any]

    def pk_params(self, id: object) -> dict[str, Any]:
        return {_PK_PARAM: self.info.coerce_pk(id)}

    def insert_params(self, validated: ModelT) -> dict[str, Any]:
        values = validated.__dict__
        params = {name: values[name] for name in self.names if name in values}
        if params.get(self.info.pk_name) is None:
            params.pop(self.info.pk_name, None)  # let the database generate it
        return params

    def update_params(self, validated: ModelT) -> dict[str, Any]:
        values = validated.__dict__
        params = {name: values[name] for name in self.names if name in values}
        params[_PK_PARAM] = params.pop(self.info.pk_name)
        return params

    def in_input_order(
        self, params: Sequence[dict[str, Any]], rows: Sequence[Row[Any]]
    ) -> list[Row[Any]]:
        """``rows`` returned by one multi-row INSERT, put in the order of ``params``.

        For dialects whose RETURNING order is not promised: given keys are matched, generated
        ones are ascending in insertion order (SQLite allocates them one row after the other).
        """
        position = self.names.index(self.info.pk_name)
        if self.info.pk_name not in params[0]:
            return sorted(rows, key=lambda row: row[position])
        order = {param[self.info.pk_name]: index for index, param in enumerate(params)}
        return sorted(rows, key=lambda row: order[row[position]])

    def from_rows(self, rows: Sequence[Sequence[Any]]) -> list[ModelT]:
        """`from_row` for each row, with the cyclic garbage collector paused meanwhile.

        Building many instances allocates many containers; letting the collector scan them
        again and again while the list grows costs more than building them (no await inside).
        """
        if len(rows) < _GC_PAUSE_FROM or not gc.isenabled():
            return [self.from_row(row) for row in rows]
        gc.disable()
        try:
            return [self.from_row(row) for row in rows]
        finally:
            gc.enable()

    def from_row(self, row: Sequence[Any]) -> ModelT:
        values = list(row)
        for position in self.datetime_positions:
            value = values[position]
            if value is not None:
                values[position] = to_utc(value)
        return build_instance(self.info, dict(zip(self.names, values, strict=True)))


@functools.cache
def sql_statements(model: type[ModelT]) -> SqlStatements[ModelT]:
    """The statements for ``model`` (made once per class)."""
    info = model_info(model)
    table = info.table
    columns = [table.columns[name] for name in info.field_names]
    pk: Column[Any] = table.columns[info.pk_name]
    where_pk = pk == bindparam(_PK_PARAM)
    return SqlStatements(
        info=info,
        tables=_with_referenced_tables(table),
        names=info.field_names,
        datetime_positions=tuple(
            position
            for position, column in enumerate(columns)
            if column.key in info.datetime_fields
        ),
        get=sa_select(*columns).where(where_pk),
        list_all=sa_select(*columns).order_by(pk),
        insert=insert(table).returning(*columns),
        insert_many=insert(table).returning(*columns, sort_by_parameter_order=True),
        insert_many_unordered=insert(table).returning(*columns),
        update=sa_update(table).where(where_pk).returning(*columns),
        delete=delete(table).where(where_pk).returning(pk),
    )


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
