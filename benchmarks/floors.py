"""The floor under the toolkit's ratio in each cell, measured in the benchmark's own process.

Three costs of every toolkit call are set by what it promises, not by how it reaches the driver:

- ``construct``: the caller's ``Hero(**row)``, inside the toolkit's timed region as inside every
  peer's (the contract takes model instances; SQLModel's constructor of a ``table=True`` model
  sets each field through SQLAlchemy's instrumentation);
- ``validate``: the validation of every write (`toolkit._rows.validate_all`: the model's
  own pydantic validators and the checks of what every backend holds);
- ``build``: a complete, detached instance of the declared class from a stored row
  (`toolkit._rows.build_instance`: the instance, its pydantic attributes and SQLAlchemy's
  instance state, which sessions, relationships and ``Session.merge`` need).

A cell's floor is the raw driver's time plus those costs, per operation; a target below the
floor cannot be met without dropping one of the three. What lies between the floor and the
toolkit's time is the toolkit's own execution (statement, connection turn, driver hops).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks import bench
from models.heroes import Hero
from toolkit._model import model_facts
from toolkit._rows import validate_all
from toolkit.repositories.sql._statements import sql_statements

PARTS = {  # what each workload's operation pays, and for how many rows
    "insert": (("construct", "validate", "build"), 1),
    "get": (("build",), 1),
    "bulk": (("construct", "validate", "build"), 1),
    "list": (("build",), 1),
    "filter": (("build",), 100),  # a query returns its limit of 100 rows
}


def measure_parts(rows: int = 5_000, rounds: int = 5) -> dict[str, float]:
    """Seconds per row of each cost, the median of ``rounds`` runs over ``rows`` rows."""
    given = bench.hero_dicts(rows, 0)
    facts = model_facts(Hero)
    statements = sql_statements(Hero)
    heroes = [Hero(**row) for row in given]
    stored = [
        tuple(key if name == facts.pk_name else row[name] for name in statements.names)
        for key, row in enumerate(given, 1)
    ]

    def per_row(call: Callable[[], Any]) -> float:
        times = []
        for _ in range(rounds):
            gc.collect()
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        return statistics.median(times) / rows

    return {
        "construct": per_row(lambda: [Hero(**row) for row in given]),
        # As the toolkit runs them on a batch (the collector paused, `toolkit._rows.gc_paused`).
        "validate": per_row(lambda: validate_all(facts, heroes)),
        "build": per_row(lambda: statements.from_rows(list(stored))),
    }


def floor_rows(
    cells: list[tuple[str, str, str, float, float, float]], parts: dict[str, float]
) -> list[str]:
    """The report's lines for the cells that miss their target.

    ``cells``: (backend / mode, workload, title, raw seconds per op, toolkit seconds per op,
    target)."""
    if not cells:
        return ["Every cell meets its target.", ""]
    lines = [
        "Per operation, in µs (list: per row). Costs measured in this run: "
        + ", ".join(f"{name} {parts[name] * 1e6:.1f} µs a row" for name in parts)
        + ".",
        "",
        "| path | workload | raw | toolkit | floor (raw + costs) | floor ratio | target "
        "| toolkit's own | reason |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for path, workload, title, raw, mine, goal in cells:
        names, rows = PARTS[workload]
        costs = sum(parts[name] for name in names) * rows
        floor = raw + costs
        own = mine - floor
        if floor / raw > goal:
            reason = (
                f"floor above the target: {' + '.join(names)} alone cost "
                f"{costs * 1e6:.1f} µs against {raw * 1e6:.1f} µs for the whole raw call"
            )
        else:
            room = goal * raw - floor
            reason = f"open: its own {own * 1e6:.1f} µs would have to go below {room * 1e6:.1f}"
        lines.append(
            f"| {path} | {title.split(' [')[0]} | {raw * 1e6:.1f} | {mine * 1e6:.1f} | "
            f"{floor * 1e6:.1f} | {floor / raw:.2f} | {goal:g} | {own * 1e6:.1f} | {reason} |"
        )
    lines.append("")
    return lines
