"""What a Redis write sends: the rows to store, the versions they must be at, and the write
script's arguments for them. No I/O: the repository's calls and a unit's end share it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from toolkit._refusals import missing_value
from toolkit._versioned import next_version
from toolkit.errors import NotFoundError, ValidationError
from toolkit.repositories.redis._documents import RedisTable
from toolkit.repositories.redis._lookups import Row

__all__ = ["Mode", "encoded", "stored_rows"]

Mode = Literal["create", "update", "upsert"]
"""How rows are written: created (a `Versioned` row at version 1), updated (at the copy's
version, stored as the next one) or upserted (an update if the row exists, else a create)."""


def stored_rows(
    described: RedisTable[Any], validated: Sequence[Any], mode: Mode
) -> tuple[list[Row], list[int | None]]:
    """The field values to store for each of ``validated`` (rows checked for writing), and the
    version each stored row must be at (None: any, or none yet)."""
    facts = described.facts
    rows = [{name: item.__dict__.get(name) for name in facts.field_names} for item in validated]
    if not facts.versioned:
        return rows, [None] * len(rows)
    if mode == "create":
        for row in rows:
            row["version"] = 1
        return rows, [None] * len(rows)
    expected: list[int | None] = []
    for row in rows:
        expected.append(row["version"])
        row["version"] = next_version(facts.name, row["version"])
    return rows, expected


def encoded(
    described: RedisTable[Any],
    rows: Sequence[Row],
    expected: Sequence[int | None],
    *,
    creating: bool,
) -> list[str]:
    """The write script's arguments for ``rows``: every value checked here, before anything is
    sent, so that the script never meets a value Redis would refuse."""
    facts = described.facts
    pk, encode = facts.pk_name, described.encode
    arguments: list[str] = []
    for position, (row, version) in enumerate(zip(rows, expected, strict=True)):
        if row.get(pk) is None:
            if not creating:  # no key: no row to update
                raise NotFoundError(facts.name, None)
            if not described.generates_keys:  # as SQL's NOT NULL on a primary key
                where = f" (item {position})" if len(rows) > 1 else ""
                raise missing_value(facts.name, [facts.pk_name], where)
        try:
            arguments.extend(encode(row, version))
        except ValueError as exc:
            raise ValidationError(f"{_where(position, rows)}invalid {facts.name}: {exc}") from exc
    return arguments


def _where(position: int, rows: Sequence[Row]) -> str:
    """Which of ``rows`` an error is about: none said when there is one."""
    return f"item {position}: " if len(rows) > 1 else ""
