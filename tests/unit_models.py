"""A model for the lost-update tests (``tests/test_lost_updates.py``): two counters under one
optimistic version."""

from __future__ import annotations

from sqlmodel import Field

from toolkit import Versioned

__all__ = ["Tally"]


class Tally(Versioned, table=True):
    id: int | None = Field(default=None, primary_key=True)
    hits: int = 0
    misses: int = 0
