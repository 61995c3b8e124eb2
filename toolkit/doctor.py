"""``python -m toolkit doctor``: is this deployment healthy?

For each backend (``--backend NAME``, repeatable; else the configured ones: ``STORAGE_BACKEND``
and every backend whose URL variable is set), the doctor checks that the server is reachable and
fit for the toolkit, and, given ``--models MODULE``, that the tables, columns and indexes (SQL:
Alembic's comparison) or the search index (Redis) match the module's table models. One line per
check, ``ok`` or ``FAIL``, each failure saying what to do; the exit code is 1 on any failure.
Read-only: it never creates a table, an index or a SQLite file. See docs/doctor.md.
"""

from __future__ import annotations

import argparse
import importlib
import traceback
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit

from sqlalchemy import Table
from sqlmodel import SQLModel

from toolkit._doctor_check import Check, first_line, model_table
from toolkit._doctor_redis import redis_checks
from toolkit._doctor_sql import sql_checks
from toolkit.config import Settings
from toolkit.errors import ToolkitError

__all__ = ["Check", "diagnose", "doctor_command", "table_models"]

_URL_FIELDS = {"postgres": "postgres_url", "redis": "redis_url", "sqlite": "sqlite_url"}


def diagnose(
    settings: Settings, backends: Iterable[str], models: Sequence[type[SQLModel]] | None = None
) -> list[Check]:
    """The checks of each of ``backends`` under ``settings``, and of ``models`` on it."""
    checks: list[Check] = []
    for backend in backends:
        checks += _backend_checks(backend, settings, models)
    return checks


def _backend_checks(
    backend: str, settings: Settings, models: Sequence[type[SQLModel]] | None
) -> list[Check]:
    if backend not in _URL_FIELDS:
        return [
            Check(
                backend,
                False,
                "unknown backend",
                "set STORAGE_BACKEND to postgres, redis or sqlite",
            )
        ]
    try:
        if backend == "redis":
            return redis_checks(settings, models)
        return sql_checks(backend, settings, models)
    except Exception as exc:  # a line, never a traceback: the report goes on
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
        return [
            Check(
                backend,
                False,
                f"the check failed unexpectedly: {type(exc).__name__}: {first_line(exc)} "
                f"(at {where})",
                "report this as a bug of the toolkit's doctor",
            )
        ]


def table_models(module_name: str) -> list[type[SQLModel]]:
    """The table models that module ``module_name`` (imported here) or its submodules declare,
    and those it imports by name, ordered by table name."""
    module = importlib.import_module(module_name)
    found: dict[type[SQLModel], None] = {}
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, SQLModel) and _is_table(value):
            found[value] = None
    pending = list(SQLModel.__subclasses__())
    seen: set[type[SQLModel]] = set()
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        pending += model.__subclasses__()
        declared_in = model.__module__
        if _is_table(model) and (
            declared_in == module_name or declared_in.startswith(f"{module_name}.")
        ):
            found[model] = None
    return sorted(found, key=lambda model: model_table(model).name)


def _is_table(model: type[SQLModel]) -> bool:
    return isinstance(getattr(model, "__table__", None), Table)


def configured_backends(settings: Settings) -> list[str]:
    """``STORAGE_BACKEND``, and every backend whose URL was given, in a stable order."""
    given = {name for name, field in _URL_FIELDS.items() if field in settings.model_fields_set}
    return sorted(given | {settings.backend.strip().lower()})


def doctor_command(argv: Sequence[str] | None = None) -> int:
    """``python -m toolkit doctor [--backend NAME]... [--models MODULE]``; the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m toolkit doctor",
        description="Check that the configured backends are reachable and fit, and that their "
        "schema matches your models. Exits 1 on any failed check.",
    )
    parser.add_argument(
        "--backend",
        action="append",
        choices=sorted(_URL_FIELDS),
        help="check this backend (repeatable); default: STORAGE_BACKEND and every backend "
        "whose URL variable is set",
    )
    parser.add_argument(
        "--models", help="the module that declares your table models (e.g. myapp.models)"
    )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ToolkitError as exc:
        print(Check("settings", False, str(exc), "fix the variable named").line())
        return 1
    checks: list[Check] = []
    models: list[type[SQLModel]] | None = None
    if args.models:
        models, found = _load_models(args.models)
        checks.append(found)
    backends = args.backend or configured_backends(settings)
    checks += diagnose(settings, dict.fromkeys(backends), models)
    hide = _secrets(settings)
    for check in checks:
        print(hide(check.line()))
    return 0 if all(check.ok for check in checks) else 1


def _load_models(module_name: str) -> tuple[list[type[SQLModel]] | None, Check]:
    """The table models of ``module_name``, and the check that says what was found."""
    try:
        models = table_models(module_name)
    except Exception as exc:  # any error of the application's module: a line, not a traceback
        return None, Check(
            "models",
            False,
            f"cannot import {module_name}: {type(exc).__name__}: {first_line(exc)}",
            "run the doctor where the module is importable (its project folder, or PYTHONPATH)",
        )
    if not models:
        return None, Check(
            "models",
            False,
            f"{module_name} declares no table models",
            "name the module that declares your SQLModel classes with table=True",
        )
    names = ", ".join(model_table(model).name for model in models)
    return models, Check("models", True, f"{module_name}: {len(models)} table(s): {names}")


def _secrets(settings: Settings) -> Callable[[str], str]:
    """A function that masks the settings' URLs and passwords in a line. The lines name hosts,
    ports and files, never a URL; this guards against a driver's message quoting one."""
    replacements: dict[str, str] = {}
    for url in (settings.postgres_url, settings.sqlite_url, settings.redis_url):
        raw = url.get_secret_value()
        if not raw:
            continue
        replacements[raw] = str(url)  # the URL with its password masked
        try:
            password = urlsplit(raw).password
        except ValueError:  # not a URL: it names nothing a line could show
            password = None
        if password:
            replacements[f":{password}@"] = ":***@"
            replacements[f"password={password}"] = "password=***"

    def hide(line: str) -> str:
        for secret in sorted(replacements, key=len, reverse=True):
            line = line.replace(secret, replacements[secret])
        return line

    return hide
