"""Filling the relationships named in ``load=``: one query per relationship, never one per row.

The rows are read through the target model's repository on the same provider, so the same code
serves every backend; `toolkit._relations` says what to read and where it goes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from toolkit._model import ModelFacts, field_of
from toolkit._relations import Load, load_steps
from toolkit.repositories.base import BaseRepository

__all__ = ["load_related"]


async def load_related(
    facts: ModelFacts[Any],
    instances: Sequence[Any],
    load: Load,
    repository_of: Callable[[type[Any]], BaseRepository[Any]],
) -> None:
    """Fill the relationships ``load`` names on ``instances`` (rows of ``facts.model``)."""
    steps = load_steps(facts.name, facts.mapper, field_of, load)
    if not instances:
        return
    for step in steps:
        values = step.values(instances)
        related: Sequence[Any] = []
        if values:
            column = getattr(step.target, step.remote)
            related = await repository_of(step.target).list(column.in_(values))
        step.fill(instances, related)
