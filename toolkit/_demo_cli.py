"""The command line shared by the async and the sync demo."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
from collections.abc import Callable, Sequence

from toolkit.config import Settings
from toolkit.errors import ToolkitError

__all__ = ["run_demo_cli"]


def run_demo_cli(
    demo: Callable[[str], object], description: str, argv: Sequence[str] | None = None
) -> int:
    """Parse ``--backend`` and run ``demo`` on it (awaited if async); return the exit code."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--backend",
        default=None,
        help="postgres, redis or sqlite (default: STORAGE_BACKEND, else sqlite)",
    )
    args = parser.parse_args(argv)
    try:
        backend = args.backend or Settings.from_env().backend
        outcome = demo(backend)
        if inspect.iscoroutine(outcome):
            asyncio.run(outcome)
    except ToolkitError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0
