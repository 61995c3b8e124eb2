"""The committed sync twins are exactly what unasyncd makes of their async sources."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_sync_code_is_fresh() -> None:
    completed = subprocess.run(
        [sys.executable, "scripts/check_generated.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
