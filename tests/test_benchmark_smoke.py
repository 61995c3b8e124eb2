"""The benchmark scripts run (tiny sizes): they must not rot between performance reviews."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_module(module: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``python -m module arguments`` from the repository root, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_benchmark_runs_and_prints_a_table_per_combination() -> None:
    completed = run_module("benchmarks.bench", "--quick")

    assert completed.returncode == 0, completed.stderr
    for title in ("postgres / async", "postgres / sync", "sqlite / async", "sqlite / sync"):
        assert title in completed.stdout
    assert completed.stdout.count("raw/toolkit time") == 4


def test_redis_benchmark_runs_and_prints_a_table_per_mode_and_size() -> None:
    completed = run_module("benchmarks.redis_queries", "--quick")

    assert completed.returncode == 0, completed.stderr
    for title in ("sync / 1,000 documents", "async / 5,000 documents", "scaling 1,000 -> 5,000"):
        assert title in completed.stdout


def test_redis_stall_benchmark_runs_and_prints_a_line_per_call(tmp_path: Path) -> None:
    output = tmp_path / "stall.md"
    completed = run_module("benchmarks.redis_stall", "--rows", "2500", "--output", str(output))

    assert completed.returncode == 0, completed.stderr
    for path in ("async", "sync"):
        for call in ("create_many", "update_many", "delete_many"):
            for how in ("staged", "one run"):
                assert f"| {path} | {call} | {how} |" in output.read_text()


def test_comparison_runs_quick_and_writes_a_table_per_combination(
    tmp_path: Path, postgres_url: str, sqlite_url: str, redis_url: str
) -> None:
    output, chart = tmp_path / "RESULTS.md", tmp_path / "ratios.svg"
    completed = run_module(
        "benchmarks.compare",
        "--quick",
        "--postgres-url", postgres_url,
        "--sqlite-url", sqlite_url,
        "--redis-url", redis_url,
        "--output", str(output),
        "--chart", str(chart),
    )  # fmt: skip

    assert completed.returncode == 0, completed.stderr
    text = output.read_text()
    assert "## Headline: the toolkit's ratio against the issue's target" in text
    for backend, raw in (
        ("postgres", ("asyncpg", "psycopg2")),
        ("sqlite", ("aiosqlite", "sqlite3")),
        ("redis", ("redis.asyncio", "redis-py")),
    ):
        for mode, driver in zip(("async", "sync"), raw, strict=True):
            assert f"## {backend} / {mode} (raw = {driver})" in text
    peers = "SQLModel Session | advanced-alchemy |"
    assert text.count(f"| workload | raw | toolkit | target | {peers}") == 4
    assert text.count("| workload | raw | toolkit | target | redis-om |") == 2
    assert text.count("Toolkit speed-up over each peer:") == 6
    for call in ("toolkit list()", "toolkit stream()", "SQLModel Session select all"):
        assert f"| sync | {call} |" in text
        assert f"| async | {call} |" in text
    assert chart.read_text().startswith("<svg")
