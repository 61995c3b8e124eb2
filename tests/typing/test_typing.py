"""The typing guarantees of the public API, as tests.

``assert_types.py`` must pass ``mypy --strict``; ``misuse.py`` must fail it with exactly the errors
its ``# E: <code>`` comments announce, no more and no fewer. mypy runs in-process with the
project's ``mypy.ini`` and its incremental cache (``.mypy_cache``), so a warm run takes well under a
second and a cold one a few seconds.
"""

from __future__ import annotations

import importlib
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest
from mypy import api as mypy_api

ROOT = Path(__file__).resolve().parents[2]
ASSERT_TYPES = "tests/typing/assert_types.py"
MISUSE = "tests/typing/misuse.py"

# Cold, mypy analyses SQLAlchemy, pydantic and SQLModel once (a few seconds); then it is cached.
pytestmark = pytest.mark.timeout(60)

# `path:line: error: message  [code]`, as mypy prints it with the options of `run_mypy`.
_ERROR = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): error: .*  \[(?P<code>[a-z0-9-]+)\]$")
# `# E: code` or `# E: code, code` at the end of a line.
_MARK = re.compile(r"^#\s*E:\s*(?P<codes>[a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)\s*$")

Error = tuple[str, int, str]
"""Where mypy reports an error and its code: (path, line, code)."""


@pytest.fixture(autouse=True)
def _in_project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # mypy reads paths, mypy.ini and its cache directory relative to the working directory.
    monkeypatch.chdir(ROOT)


def run_mypy(path: str) -> tuple[int, str, set[Error]]:
    """Check ``path`` alone (mypy.ini's ``files`` and ``exclude`` do not apply to it).

    Return the exit status, the full report and the errors found in it.
    """
    stdout, stderr, status = mypy_api.run(
        [
            "--config-file",
            "mypy.ini",
            "--show-error-codes",
            "--no-pretty",
            "--no-error-summary",
            "--hide-error-context",
            "--no-color-output",
            path,
        ]
    )
    assert stderr == "", f"mypy could not run (status {status}):\n{stderr}"
    errors = set()
    for line in stdout.splitlines():
        if ": error: " not in line:
            continue  # notes
        match = _ERROR.match(line)
        assert match is not None, f"unexpected mypy output line: {line!r}"
        errors.add((match["path"], int(match["line"]), match["code"]))
    return status, stdout, errors


def marked_errors(path: str) -> set[Error]:
    """The (path, line, code) of every ``# E: code`` comment in ``path``."""
    expected: set[Error] = set()
    source = (ROOT / path).read_text(encoding="utf-8")
    for token in _comments(source):
        text = token.string
        if not re.match(r"#\s*E\b", text):
            continue
        match = _MARK.match(text)
        assert match is not None, f"{path}:{token.start[0]}: malformed marker {text!r}"
        for code in match["codes"].split(","):
            expected.add((path, token.start[0], code.strip()))
    return expected


def _comments(source: str) -> Iterator[tokenize.TokenInfo]:
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token


def _describe(errors: set[Error]) -> list[str]:
    return [f"  {path}:{line}: [{code}]" for path, line, code in sorted(errors)] or ["  (none)"]


def test_public_api_has_the_asserted_types() -> None:
    status, report, errors = run_mypy(ASSERT_TYPES)

    assert errors == set(), f"assert_types.py fails mypy --strict:\n{report}"
    assert status == 0, report


def test_misuse_is_rejected_with_exactly_the_marked_errors() -> None:
    expected = marked_errors(MISUSE)
    assert len(expected) >= 30, "the markers of misuse.py were not found"

    status, report, errors = run_mypy(MISUSE)

    missing = expected - errors
    unexpected = errors - expected
    assert missing | unexpected == set(), "\n".join(
        [
            "marked but not reported by mypy (a typing hole, or a stale marker):",
            *_describe(missing),
            "reported by mypy but not marked:",
            *_describe(unexpected),
            "mypy said:",
            report,
        ]
    )
    assert status == 1, report


def test_marker_parsing() -> None:
    source = "x = 1  # E: arg-type\ny = 2  # E: misc, call-arg\ns = '# E: not-a-comment'\n"
    path = "tests/typing/_marker_example.py"
    comments = {token.start[0]: token.string for token in _comments(source)}

    assert comments == {1: "# E: arg-type", 2: "# E: misc, call-arg"}
    assert _MARK.match(comments[2]) is not None
    assert _ERROR.match(f"{path}:3: error: Bad [thing]  [arg-type]") is not None
    assert _ERROR.match(f"{path}:3: note: See [x]") is None


@pytest.mark.parametrize("module", ["tests.typing.assert_types", "tests.typing.misuse"])
def test_typing_modules_import_without_running_anything(module: str) -> None:
    # Their bodies only define functions and classes; nothing is executed on import.
    importlib.import_module(module)
