"""The guide in docs/: every page's Python examples run (each page as one program, as the
README's do) and pass mypy --strict, and ``mkdocs build --strict`` builds the site.

Pages are found by globbing docs/*.md, so a new page's examples run as soon as it lands; the
strict build fails on a page that is missing from the nav, a broken link or a broken anchor.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.markdown_programs import ROOT, check_types, run_program, write_program
from tests.services import fresh_postgres_database

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))


def program_name(page: Path) -> str:
    """A module name no import can mean (a page called redis.md must not shadow redis)."""
    return f"docs_{re.sub(r'[^0-9a-zA-Z_]', '_', page.stem)}"


def page_params() -> list[object]:
    return [pytest.param(page, id=page.name) for page in PAGES]


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each page's program, by page name, all in one folder."""
    folder = tmp_path_factory.mktemp("docs")
    return {page.name: write_program(page, folder, program_name(page)) for page in PAGES}


@pytest.fixture(scope="module")
def mypy_errors(programs: dict[str, Path]) -> dict[str, list[str]]:
    """mypy --strict over every page's program at once: its error lines, by file name.

    By name, not path: mypy repeats a cached module's errors with the path it had then."""
    completed = check_types(list(programs.values()))
    output = completed.stdout + completed.stderr
    assert completed.returncode in (0, 1), output  # 2: mypy itself failed
    errors: dict[str, list[str]] = {}
    for line in output.splitlines():
        if ": error:" in line:
            errors.setdefault(Path(line.partition(":")[0]).name, []).append(line)
    return errors


@pytest.mark.parametrize("page", page_params())
def test_page_examples_run(
    page: Path, programs: dict[str, Path], tmp_path: Path, redis_url: str
) -> None:
    """The page's examples, against services of their own: a fresh PostgreSQL database, a
    SQLite file, a Redis key prefix. They read them as an application does, from
    ``POSTGRES_DATABASE_URL``, ``SQLITE_DATABASE_URL`` and ``REDIS_URL``."""
    with fresh_postgres_database() as postgres_url:
        completed = run_program(
            programs[page.name],
            {
                "STORAGE_BACKEND": "sqlite",
                "SQLITE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'docs.db'}",
                "POSTGRES_DATABASE_URL": postgres_url,
                "REDIS_URL": redis_url,
                "REDIS_KEY_PREFIX": f"docs{uuid.uuid4().hex[:8]}",
            },
            cwd=tmp_path,
        )
    assert completed.returncode == 0, f"{page.name} (line numbers are the page's):\n" + (
        completed.stderr
    )


@pytest.mark.parametrize("page", page_params())
def test_page_examples_pass_mypy_strict(
    page: Path, programs: dict[str, Path], mypy_errors: dict[str, list[str]]
) -> None:
    assert not mypy_errors.get(programs[page.name].name), "\n".join(
        mypy_errors[programs[page.name].name]
    )
    names = {program.name for program in programs.values()}
    elsewhere = [line for name, lines in mypy_errors.items() if name not in names for line in lines]
    assert not elsewhere, "\n".join(elsewhere)  # in a module the examples import


def test_site_builds_strict(tmp_path: Path) -> None:
    """No warning: every page in the nav, every link and anchor found, the chart included."""
    site = tmp_path / "site"
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    chart = site / "assets" / "ratios.svg"
    assert chart.read_bytes() == (ROOT / "benchmarks" / "ratios.svg").read_bytes()
    for page in PAGES:
        built = site / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert built.is_file(), f"{page.name} was not built"
