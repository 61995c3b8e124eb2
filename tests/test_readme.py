"""The README's Python snippets run, in order, as one program, and pass mypy --strict."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.markdown_programs import ROOT, check_types, python_blocks, run_program, write_program

README = ROOT / "README.md"


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert len(python_blocks(README.read_text())) >= 5, "the README's snippets were not found"
    return write_program(README, tmp_path_factory.mktemp("readme"), "readme_program")


def test_readme_snippets_run(program: Path) -> None:
    completed = run_program(
        program,
        {
            "STORAGE_BACKEND": "sqlite",
            "SQLITE_DATABASE_URL": f"sqlite+aiosqlite:///{program.parent / 'readme.db'}",
        },
    )
    assert completed.returncode == 0, completed.stderr
    assert "['Dune']" in completed.stdout


def test_readme_snippets_pass_mypy_strict(program: Path) -> None:
    completed = check_types([program])
    assert completed.returncode == 0, completed.stdout + completed.stderr
