"""A constraint's refusal of a statement in the model's terms: the fields it names and the
toolkit's error for it. No I/O.

The dialects tell what their driver says (`IntegrityRefusal`: a table, a constraint name,
columns); this module finds the constraint among the model's table's (its primary key, unique
constraints and unique indexes, foreign keys) and names its columns by their fields, so that a
refusal reads as it does on every backend (`toolkit._refusals`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, ForeignKeyConstraint, Table, UniqueConstraint

from toolkit._model import table_fields
from toolkit._refusals import (
    duplicate,
    missing_parent,
    missing_value,
    other_refusal,
    still_referenced,
)
from toolkit.errors import ToolkitError
from toolkit.repositories.sql._dialect import IntegrityRefusal

__all__ = ["Subject", "refusal_error"]

_NAME_BYTES = 63  # PostgreSQL truncates longer names: its defaults are then not predictable


@dataclass(frozen=True, slots=True)
class Subject:
    """What a call is about, as its errors name it: a model and its table, or (no table) the
    block's own statements."""

    name: str
    table: Table | None = None


def refusal_error(
    refusal: IntegrityRefusal, subject: Subject, statement: str | None
) -> ToolkitError:
    """The toolkit's error for ``refusal`` of ``statement``, run for ``subject``."""
    model_name = subject.name
    verb = (statement or "").lstrip().partition(" ")[0].upper()
    if refusal.kind == "foreign_key" and verb == "DELETE":
        return still_referenced(model_name)  # the refusing key is another table's
    table = subject.table
    if table is not None and refusal.table not in (None, table.name):
        table = None  # another table's refusal: named as the driver names it
    if table is None:  # not a model's statement: name the columns as the driver does
        fields: Sequence[str] = refusal.columns
        pk_name = ""
    else:
        found = _columns(table, refusal)
        field = table_fields(table)
        fields = [] if found is None else [field[column.key] for column in found]
        pk_name = field[next(iter(table.primary_key.columns)).key]
        if refusal.kind == "foreign_key" and not fields:
            # SQLite does not say which foreign key: each of the model's that the statement
            # gave a value (a NULL refers to nothing), or every one when it does not tell.
            keys = [column for column in table.columns if column.foreign_keys]
            given = [column for column in keys if column.name in (refusal.written or ())]
            fields = [field[column.key] for column in given or keys]
    if refusal.kind == "duplicate":
        return duplicate(model_name, fields, pk_name)
    if refusal.kind == "foreign_key":
        return missing_parent(model_name, fields)
    if refusal.kind == "not_null":
        return missing_value(model_name, fields)
    return other_refusal(model_name)


def _columns(table: Table, refusal: IntegrityRefusal) -> list[Column[Any]] | None:
    """The columns of the constraint that refused: found by its name, else by the columns the
    driver named; None when neither is found in ``table``."""
    if refusal.constraint is not None:
        for named, columns in _constraints(table, refusal.kind):
            if refusal.constraint in named:
                return columns
    by_name = {column.name: column for column in table.columns}
    if not refusal.columns or any(name not in by_name for name in refusal.columns):
        return None
    return [by_name[name] for name in refusal.columns]


def _constraints(table: Table, kind: str) -> Iterable[tuple[set[str], list[Column[Any]]]]:
    """The constraints of ``table`` that refuse as ``kind`` does: the names each may have in the
    database (its own, or PostgreSQL's default for an unnamed one), and its columns."""
    if kind == "duplicate":
        primary = list(table.primary_key.columns)
        yield _names(table.primary_key.name, f"{table.name}_pkey"), primary
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint):
                columns = list(constraint.columns)
                yield _names(constraint.name, _default(table, columns, "key")), columns
        for index in table.indexes:
            if index.unique:
                yield _names(index.name, None), list(index.columns)
    elif kind == "foreign_key":
        for constraint in table.constraints:
            if isinstance(constraint, ForeignKeyConstraint):
                columns = list(constraint.columns)
                yield _names(constraint.name, _default(table, columns, "fkey")), columns


def _default(table: Table, columns: Sequence[Column[Any]], suffix: str) -> str:
    return "_".join([table.name, *(column.name for column in columns), suffix])


def _names(own: object, default: str | None) -> set[str]:
    """A constraint's own name (a str, once SQLAlchemy has one), and the database's default."""
    names = {own} if isinstance(own, str) else set()
    if default is not None and len(default.encode()) <= _NAME_BYTES:
        names.add(default)
    return names
