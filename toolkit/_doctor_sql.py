"""The doctor's checks of a SQL backend: the server (or file) is there and fit, and the tables
of the models match the database (Alembic's comparison, types compared). Read-only."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, Index, MetaData, Table
from sqlalchemy.engine import URL, Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import Constraint, ForeignKeyConstraint, UniqueConstraint
from sqlmodel import SQLModel

from toolkit._doctor_check import Check, first_line, model_table
from toolkit._schema_engine import SQL_DIALECTS, schema_engine
from toolkit.config import Settings
from toolkit.errors import ConfigurationError
from toolkit.repositories.sql._postgres import POSTGRES
from toolkit.repositories.sql._sqlite import SQLITE

__all__ = ["sql_checks"]

_OLDEST_POSTGRES = 13
_OLDEST_SQLITE = (3, 35, 0)  # RETURNING, which every write uses
_MIGRATE = "run `alembic revision --autogenerate`, review it, then `alembic upgrade head`"


def sql_checks(
    backend: str, settings: Settings, models: Sequence[type[SQLModel]] | None
) -> list[Check]:
    """The checks of ``backend`` (postgres or sqlite), and of ``models``' tables on it."""
    dialect = SQL_DIALECTS[backend]
    try:
        url, engine = schema_engine(dialect, settings)
    except ConfigurationError as exc:
        return [Check(backend, False, str(exc), f"fix {dialect.url_setting}")]
    try:
        if dialect is POSTGRES:
            return _postgres_checks(url, engine, settings, models)
        return _sqlite_checks(url, engine, settings, models)
    finally:
        engine.dispose()


def _postgres_checks(
    url: URL, engine: Engine, settings: Settings, models: Sequence[type[SQLModel]] | None
) -> list[Check]:
    where = f"{POSTGRES.describe(url)}, database {url.database or 'postgres'}"
    try:
        connection = engine.connect()
    except (SQLAlchemyError, OSError) as exc:
        return [
            Check(
                "postgres",
                False,
                f"cannot connect to {where}: {first_line(exc)}",
                "start the server, or fix POSTGRES_DATABASE_URL (host, port, user, password, "
                "database)",
            )
        ]
    with connection:
        version = str(connection.exec_driver_sql("SHOW server_version").scalar()).split()[0]
        number = int(connection.exec_driver_sql("SHOW server_version_num").scalar() or 0)
        if number // 10000 < _OLDEST_POSTGRES:
            return [
                Check(
                    "postgres",
                    False,
                    f"{where} runs PostgreSQL {version}, older than {_OLDEST_POSTGRES}",
                    f"upgrade the server to PostgreSQL {_OLDEST_POSTGRES} or later",
                )
            ]
        checks = [Check("postgres", True, f"reachable: {where}, version {version}")]
        if models:
            checks += _schema_checks("postgres", connection, models, settings)
        return checks


def _sqlite_checks(
    url: URL, engine: Engine, settings: Settings, models: Sequence[type[SQLModel]] | None
) -> list[Check]:
    version = sqlite3.sqlite_version
    if sqlite3.sqlite_version_info < _OLDEST_SQLITE:
        oldest = ".".join(map(str, _OLDEST_SQLITE))
        return [
            Check(
                "sqlite",
                False,
                f"Python's SQLite library is {version}, older than {oldest}",
                f"run on a Python built with SQLite {oldest} or later",
            )
        ]
    if SQLITE.single_connection(url):
        return [Check("sqlite", True, f"in-memory database (SQLite {version}): nothing to check")]
    path = Path(url.database or "")
    where = SQLITE.describe(url)
    folder = path.absolute().parent
    if not path.exists():
        if not folder.is_dir():
            return [
                Check(
                    "sqlite",
                    False,
                    f"{where}: folder {folder} does not exist",
                    "create the folder, or fix SQLITE_DATABASE_URL",
                )
            ]
        if not os.access(folder, os.W_OK | os.X_OK):
            return [_unwritable(where, f"folder {folder} is not writable: the file cannot be made")]
        # Connecting would make the file: the doctor changes nothing.
        checks = [Check("sqlite", True, f"{where} does not exist yet; SQLite {version} makes it")]
        if models:
            tables = [model_table(model) for model in models]
            checks += [_missing_table("sqlite", table, settings) for table in tables]
        return checks
    if not path.is_file():
        return [Check("sqlite", False, f"{where} is not a file", "fix SQLITE_DATABASE_URL")]
    if not os.access(path, os.R_OK | os.W_OK):
        return [_unwritable(where, "the file is not readable and writable by this user")]
    if not os.access(folder, os.W_OK | os.X_OK):
        return [_unwritable(where, "its folder is not writable (SQLite writes a journal there)")]
    try:
        connection = engine.connect()
        connection.exec_driver_sql("PRAGMA schema_version")  # reads the header: a database?
    except (SQLAlchemyError, OSError) as exc:
        return [
            Check(
                "sqlite",
                False,
                f"cannot open {where}: {first_line(exc)}",
                "fix SQLITE_DATABASE_URL, or restore the file",
            )
        ]
    with connection:
        checks = [Check("sqlite", True, f"{where}: readable and writable, SQLite {version}")]
        if models:
            checks += _schema_checks("sqlite", connection, models, settings)
        return checks


def _unwritable(where: str, why: str) -> Check:
    return Check(
        "sqlite",
        False,
        f"{where}: {why}",
        "give this user write access, or fix SQLITE_DATABASE_URL",
    )


def _schema_checks(
    backend: str, connection: Connection, models: Sequence[type[SQLModel]], settings: Settings
) -> list[Check]:
    """One check per difference between the database and the models' tables (tables the
    models do not declare are left alone); one ok check when there is none."""
    tables = [model_table(model) for model in models]
    differences: list[Any] = []
    for metadata in dict.fromkeys(table.metadata for table in tables):
        wanted = {table.name for table in tables if table.metadata is metadata}
        differences += _compare(connection, metadata, wanted)
    if not differences:
        names = ", ".join(table.name for table in tables)
        return [Check(backend, True, f"tables match the models ({names})")]
    missing = [d[1] for d in differences if isinstance(d, tuple) and d[0] == "add_table"]
    checks = [_missing_table(backend, table, settings) for table in missing]
    missing_names = {table.name for table in missing}
    for difference in differences:
        # A missing table's indexes are missing too: its line says all.
        if not (isinstance(difference, tuple) and _table_name(difference) in missing_names):
            checks.append(
                Check(backend, False, _described(difference, connection.dialect), _MIGRATE)
            )
    return checks


def _table_name(difference: tuple[Any, ...]) -> str | None:
    """The table a difference about a whole table, an index or a constraint is about (Alembic
    compares copies of the tables: by name)."""
    item = difference[1]
    table = item if isinstance(item, Table) else getattr(item, "table", None)
    return table.name if isinstance(table, Table) else None


def _compare(connection: Connection, metadata: MetaData, wanted: set[str]) -> list[Any]:
    def include_name(name: str | None, type_: str, _parents: object) -> bool:
        return type_ != "table" or name in wanted

    def include_object(
        _object: object, name: str | None, type_: str, _reflected: bool, _other: object
    ) -> bool:
        return type_ != "table" or name in wanted

    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_name": include_name,
            "include_object": include_object,
        },
    )
    return list(compare_metadata(context, metadata))


def _missing_table(backend: str, table: Table, settings: Settings) -> Check:
    if settings.auto_create:
        return Check(
            backend,
            True,
            f"table {table.name} is missing; the toolkit creates it on first use "
            "(STORAGE_AUTO_CREATE is on)",
        )
    return Check(
        backend,
        False,
        f"table {table.name} is missing (STORAGE_AUTO_CREATE is off)",
        f"{_MIGRATE} (or set STORAGE_AUTO_CREATE=true)",
    )


def _described(difference: Any, dialect: Dialect) -> str:
    """What one difference of Alembic's comparison says, in words (database first)."""
    if isinstance(difference, list):  # a column's modifications: one tuple each
        return "; ".join(_described(change, dialect) for change in difference)
    kind = difference[0]
    if kind in ("add_column", "remove_column"):
        _, _, table, column = difference
        if kind == "add_column":
            return f"table {table} misses column {column.name}"
        return f"table {table} has column {column.name}, which the model lacks"
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint"):
        item = difference[1]
        what = _item(item)
        if kind.startswith("add"):
            return f"table {item.table.name} misses {what}"
        return f"table {item.table.name} has {what}, which the model lacks"
    if kind in ("add_fk", "remove_fk"):
        fk: ForeignKeyConstraint = difference[1]
        what = f"foreign key ({', '.join(fk.column_keys)}) to {fk.referred_table.name}"
        if kind == "add_fk":
            return f"table {fk.table.name} misses {what}"
        return f"table {fk.table.name} has {what}, which the model lacks"
    if kind == "modify_type":
        _, _, table, column, _, existing, wanted = difference
        return (
            f"column {table}.{column} is {_type_name(existing, dialect)}, the model's is "
            f"{_type_name(wanted, dialect)}"
        )
    if kind == "modify_nullable":
        _, _, table, column, _, existing, wanted = difference
        allows = {True: "allows NULL", False: "is NOT NULL"}
        return f"column {table}.{column} {allows[existing]}; in the model it {allows[wanted]}"
    return f"the database differs from the models: {kind} {difference[1:]}"


def _item(item: Index | Constraint) -> str:
    columns = ", ".join(column.name for column in getattr(item, "columns", ()))
    if isinstance(item, Index):
        unique = "unique " if item.unique else ""
        return f"{unique}index {item.name} ({columns})"
    if isinstance(item, UniqueConstraint):
        name = f" {item.name}" if item.name else ""
        return f"unique constraint{name} ({columns})"
    return f"constraint {item.name or type(item).__name__}"


def _type_name(type_: Any, dialect: Dialect) -> str:
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:  # a type the dialect cannot compile: its Python name is still a name
        return repr(type_)
