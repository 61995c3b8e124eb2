"""The benchmark script runs (tiny sizes): it must not rot between performance reviews."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_runs_and_prints_a_table_per_combination() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    for title in ("postgres / async", "postgres / sync", "sqlite / async", "sqlite / sync"):
        assert title in completed.stdout
    assert completed.stdout.count("raw/toolkit time") == 4
