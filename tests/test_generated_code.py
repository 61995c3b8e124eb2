"""The committed sync twins are exactly what unasyncd makes of their async sources, and the
rename rules that make them all still match something."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
from unasyncd.config import load_config

from scripts.check_generated import unused_rules

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


def test_every_rename_rule_matches_a_name_in_the_async_sources() -> None:
    assert unused_rules(load_config(ROOT / "pyproject.toml")) == []


def test_a_rename_rule_that_matches_nothing_is_reported() -> None:
    config = load_config(ROOT / "pyproject.toml")
    stale = {
        "RedisScopeOfOldName": "SyncRedisScopeOfOldName",  # a class renamed away
        "toolkit.engines.AsyncSqlEngine": "toolkit.engines.SyncSqlEngine",  # a module moved
        "Redis": "SyncRedis",  # a name that appears only as part of a dotted one
    }
    with_stale = msgspec.structs.replace(
        config,
        extra_replacements={
            source: {**rules, **stale} for source, rules in config.extra_replacements.items()
        },
    )

    assert unused_rules(with_stale) == [
        f"rename rule {rule!r} matches nothing in the async sources; remove it"
        for rule in sorted(stale)
    ]
