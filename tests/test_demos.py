"""The demos (``python -m toolkit``, ``python -m toolkit.sync_demo``) and the usage examples
(``python -m examples.usage``) run from a clean environment and exit 0, printing what they did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMOS = ["toolkit", "toolkit.sync_demo", "examples.usage"]
OWN_VARIABLES = ("STORAGE_", "POSTGRES_DATABASE_URL", "SQLITE_DATABASE_URL", "REDIS_URL")


def run_demo(module: str, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(OWN_VARIABLES)}
    return subprocess.run(
        [sys.executable, "-W", "error", "-m", module, *args],
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("module", DEMOS)
def test_demo_runs_on_sqlite_with_no_configuration(module: str, tmp_path: Path) -> None:
    completed = run_demo(module, tmp_path)

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert "sqlite" in completed.stdout
    assert len(completed.stdout.splitlines()) >= 5


@pytest.mark.parametrize("module", DEMOS)
def test_demo_runs_on_postgres(module: str, tmp_path: Path, postgres_url: str) -> None:
    completed = run_demo(
        module, tmp_path, "--backend", "postgres", POSTGRES_DATABASE_URL=postgres_url
    )

    assert completed.returncode == 0, completed.stderr
    assert "postgres" in completed.stdout


@pytest.mark.parametrize("module", DEMOS)
def test_demo_runs_on_redis(module: str, tmp_path: Path, redis_url: str) -> None:
    completed = run_demo(module, tmp_path, "--backend", "redis", REDIS_URL=redis_url)

    assert completed.returncode == 0, completed.stderr
    assert "redis" in completed.stdout


def test_demo_reports_an_unknown_backend_and_exits_1(tmp_path: Path) -> None:
    completed = run_demo("toolkit", tmp_path, "--backend", "nope")

    assert completed.returncode == 1
    assert "ConfigurationError" in completed.stderr
