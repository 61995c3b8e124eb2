"""The README's Python snippets run, in order, as one program, and pass mypy --strict."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SNIPPET = re.compile(r"```python\n(.*?)```", re.DOTALL)


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    snippets = SNIPPET.findall((ROOT / "README.md").read_text())
    assert len(snippets) >= 5, "the README's snippets were not found"
    path = tmp_path_factory.mktemp("readme") / "readme_program.py"
    path.write_text("\n\n".join(snippets))
    return path


def test_readme_snippets_run(program: Path) -> None:
    env = {
        **os.environ,
        "STORAGE_BACKEND": "sqlite",
        "SQLITE_DATABASE_URL": f"sqlite+aiosqlite:///{program.parent / 'readme.db'}",
        "PYTHONPATH": str(ROOT),
    }
    completed = subprocess.run(
        [sys.executable, "-W", "error", str(program)],
        cwd=program.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "['Dune']" in completed.stdout


def test_readme_snippets_pass_mypy_strict(program: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "mypy.ini"), str(program)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
