"""Alembic migrations of the tables of your SQLModel models, on the toolkit's database.

An Alembic ``env.py`` calls `run_migrations`; ``python -m toolkit migrations init DIR --models
MODULE`` writes a whole Alembic setup whose ``env.py`` does (see docs/migrations.md):

    from sqlmodel import SQLModel

    import myapp.models  # noqa: F401  (declares the table models)
    from toolkit.migrations import run_migrations

    run_migrations(SQLModel.metadata)

The database is the one the toolkit's `Settings` name (``STORAGE_BACKEND``, and
``POSTGRES_DATABASE_URL`` or ``SQLITE_DATABASE_URL``), in the async or the sync form; Alembic's
own ``sqlalchemy.url`` is not read. Migrations run on the sync driver (psycopg2, sqlite3), so
that an ``env.py`` runs the same from the ``alembic`` command and from code that already runs
an event loop. Set ``STORAGE_AUTO_CREATE=false`` where Alembic owns the schema: the toolkit then
never creates a table or a Redis index.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from alembic import command, context
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.util import CommandError
from sqlalchemy import MetaData, TypeDecorator
from sqlmodel import SQLModel

from toolkit._schema_engine import SQL_DIALECTS, schema_engine
from toolkit.config import Settings
from toolkit.errors import ConfigurationError, ToolkitError
from toolkit.repositories.sql._sqlite import SQLITE

__all__ = ["ENV_TEMPLATE", "init_migrations", "migrations_command", "run_migrations"]

_ALEMBIC_DIALECTS = {"postgres": "postgresql", "sqlite": "sqlite"}


def run_migrations(
    metadata: MetaData | None = None,
    *,
    settings: Settings | None = None,
    backend: str | None = None,
) -> None:
    """Run Alembic's migrations, offline (``--sql``) or online; call it from ``env.py``.

    ``metadata`` holds the models' tables (default: ``SQLModel.metadata``, where every table
    model imported so far is). The backend is ``backend``, else ``alembic -x backend=NAME``,
    else the settings' ``STORAGE_BACKEND``; ``settings`` default to `Settings.from_env`.
    Autogenerate compares column types, and renders SQLite's changes in batch mode (SQLite
    alters a table by copying it).
    """
    resolved = settings if settings is not None else Settings.from_env()
    chosen = backend or context.get_x_argument(as_dictionary=True).get("backend")
    name = (chosen or resolved.backend).strip().lower()
    dialect = SQL_DIALECTS.get(name)
    if dialect is None:
        raise ConfigurationError(
            f"migrations run on postgres or sqlite, not {name!r}: set STORAGE_BACKEND, or run "
            "alembic -x backend=postgres (or sqlite)"
        )
    options: dict[str, Any] = {
        "target_metadata": SQLModel.metadata if metadata is None else metadata,
        "compare_type": True,
        "render_as_batch": dialect is SQLITE,
        "render_item": _render_item,
    }
    if context.is_offline_mode():
        # The SQL is written out, not run: the dialect is all it needs (and no password).
        context.configure(
            dialect_name=_ALEMBIC_DIALECTS[name],
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            **options,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    _, engine = schema_engine(dialect, resolved)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, **options)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """SQLModel's own column types (``AutoString``, ``UTCDateTime``) written in a revision as
    the SQLAlchemy types they are stored as, so that revisions need no ``import sqlmodel``
    and do not depend on SQLModel's internals."""
    if (
        type_ == "type"
        and isinstance(obj, TypeDecorator)
        and type(obj).__module__.startswith("sqlmodel.")
    ):
        prefix = autogen_context.opts.get("sqlalchemy_module_prefix") or ""
        return f"{prefix}{obj.impl_instance!r}"
    return False


ENV_TEMPLATE = '''\
"""Alembic's environment: migrations of the tables that {models} declares.

The database is the one the toolkit's settings name (STORAGE_BACKEND, POSTGRES_DATABASE_URL or
SQLITE_DATABASE_URL, from the environment or .env), not alembic.ini's sqlalchemy.url;
`alembic -x backend=postgres ...` picks a backend for one command. See toolkit.migrations.
"""

from logging.config import fileConfig

from alembic import context
from sqlmodel import SQLModel

import {models}  # noqa: F401  (declares the table models: they join SQLModel.metadata)
from toolkit.migrations import run_migrations

if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

run_migrations(SQLModel.metadata)
'''
"""The ``env.py`` that `init_migrations` writes; ``{models}`` is the models' module."""

_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_INI_URL = re.compile(r"^sqlalchemy\.url\s*=.*$", re.MULTILINE)
_INI_URL_NOTE = (
    "# sqlalchemy.url is not read: env.py takes the database from the toolkit's settings\n"
    "# (STORAGE_BACKEND, POSTGRES_DATABASE_URL or SQLITE_DATABASE_URL)."
)


def init_migrations(
    directory: str | Path, *, models: str, config_file: str | Path = "alembic.ini"
) -> None:
    """Write an Alembic setup: ``config_file`` (unless it exists) and ``directory`` holding
    Alembic's generic template with the toolkit's ``env.py``, which imports ``models``."""
    if not _MODULE_NAME.fullmatch(models):
        raise ConfigurationError(f"--models must name a module (myapp.models), not {models!r}")
    config_path = Path(config_file)
    had_config = config_path.exists()
    try:
        command.init(Config(str(config_path)), str(directory), template="generic")
    except CommandError as exc:
        raise ConfigurationError(str(exc)) from exc
    (Path(directory) / "env.py").write_text(ENV_TEMPLATE.format(models=models))
    if not had_config:
        text = config_path.read_text()
        config_path.write_text(_INI_URL.sub(lambda _: _INI_URL_NOTE, text, count=1))


def migrations_command(argv: Sequence[str] | None = None) -> int:
    """``python -m toolkit migrations init DIR --models MODULE``; the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m toolkit migrations",
        description="Set up Alembic migrations for the tables of your SQLModel models.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser(
        "init", help="write alembic.ini and a migrations folder whose env.py uses the toolkit"
    )
    init.add_argument("directory", help="the folder of the migrations, e.g. migrations")
    init.add_argument("--models", required=True, help="the module that declares your models")
    init.add_argument("--config", default="alembic.ini", help="default: alembic.ini")
    args = parser.parse_args(argv)
    try:
        init_migrations(args.directory, models=args.models, config_file=args.config)
    except (ToolkitError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"Next: alembic revision --autogenerate -m 'create tables', then alembic upgrade head "
        f"(with {args.models} importable, and the toolkit's settings naming the database)."
    )
    return 0
