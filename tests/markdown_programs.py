"""A Markdown page's Python examples as one program: what the README and docs tests run.

Every ```` ```python ```` block of a page runs, in the page's order, as one program, so a later
block can use what an earlier one declared. The program keeps the page's line numbers (the lines
outside the blocks are left blank), so a traceback or a mypy error names the line of the page.

A block that is not a program of its own (a file shown for reading, such as a template) says so
on the line before its fence, with the reason:

    <!-- not run: the env.py that `migrations init` writes; it runs under Alembic -->
    ```python
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A fence, at any indentation (a block may sit in a list or an admonition); an info string may
# follow the language: ```python title="x.py"
_FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>.*)$")
_NOT_RUN = re.compile(r"^<!--\s*not run:\s*\S.*-->$")
# The toolkit's own variables are set by each test, never inherited from the shell running it.
_TOOLKIT_VARIABLES = re.compile(r"^(STORAGE_|POSTGRES_DATABASE_URL$|SQLITE_DATABASE_URL$|REDIS_)")


@dataclass(frozen=True, slots=True)
class Block:
    """A ```` ```python ```` block: the page's line of its first line of code, and the code."""

    line: int
    code: str
    runs: bool


def python_blocks(page: str) -> list[Block]:
    """The ```` ```python ```` blocks of ``page``, in order, their code dedented to the fence."""
    blocks: list[Block] = []
    lines = page.splitlines()
    previous = ""  # the last non-blank line before the current one
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            if lines[index].strip():
                previous = lines[index].strip()
            index += 1
            continue
        indent = opening["indent"]
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != f"{indent}```":
            end += 1
        if end == len(lines):
            raise ValueError(f"the code block opened at line {index + 1} is never closed")
        language = opening["info"].split(maxsplit=1)[0] if opening["info"].strip() else ""
        if language in ("python", "py"):
            code = "\n".join(line.removeprefix(indent) for line in lines[index + 1 : end])
            blocks.append(Block(index + 2, code, not _NOT_RUN.match(previous)))
        previous, index = "```", end + 1
    return blocks


def program_of(page: str) -> str:
    """The runnable blocks of ``page`` as one program, each at its line of the page."""
    lines = [""] * len(page.splitlines())
    for block in python_blocks(page):
        if block.runs:
            for offset, code in enumerate(block.code.splitlines()):
                lines[block.line - 1 + offset] = code
    return "\n".join(lines).rstrip() + "\n"


def write_program(page: Path, directory: Path, name: str) -> Path:
    """Write ``page``'s program to ``directory``/``name``.py (a name no import can mean)."""
    path = directory / f"{name}.py"
    path.write_text(program_of(page.read_text()))
    return path


def run_program(
    program: Path, variables: Mapping[str, str], cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``program`` with warnings as errors, in ``cwd`` (default: its own folder), with the
    repository on the path and the toolkit's variables given by ``variables`` alone."""
    inherited = {k: v for k, v in os.environ.items() if not _TOOLKIT_VARIABLES.match(k)}
    return subprocess.run(
        [sys.executable, "-W", "error", str(program)],
        cwd=program.parent if cwd is None else cwd,
        env={**inherited, "PYTHONPATH": str(ROOT), **variables},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def check_types(programs: Sequence[Path]) -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` (the repository's configuration) over ``programs``."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "mypy.ini"),
            *map(str, programs),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
