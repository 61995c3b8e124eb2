"""What the Redis reader works out without I/O: which rows a condition names by key or by a
unique value, what a reply holds, and what staged batches in progress change for readers."""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from toolkit.errors import BackendUnavailableError
from toolkit.query._tree import And, Compare, Condition, InSet
from toolkit.repositories.redis._codecs import unicode_text
from toolkit.repositories.redis._documents import RedisTable
from toolkit.repositories.redis._keys import RedisKeys

__all__ = [
    "Row",
    "View",
    "count_arguments",
    "keyed",
    "search_rows",
    "search_total",
    "unique_hashes",
    "unique_value",
    "view_of",
]


Row = dict[str, Any]
"""The field values of one row, by field name."""


@dataclass(frozen=True, slots=True)
class View:
    """What the staged batches in progress on a table hide and change, for its readers."""

    sides: dict[str, str]  # batch -> "before" or "after" its commit
    hidden: set[str]  # primary key tokens of rows not to be seen
    replaced: dict[str, Row]  # token -> the field values to be seen instead


def view_of(described: RedisTable[Any], sides: Any, hidden: Any, old: Any) -> View:
    """The `View` in the write script's "view" reply."""
    return View(
        sides={str(sides[i]): str(sides[i + 1]) for i in range(0, len(sides), 2)},
        hidden={str(token) for token in hidden},
        replaced={
            str(old[i]): described.values(json.loads(old[i + 1])) for i in range(0, len(old), 2)
        },
    )


def unique_hashes(described: RedisTable[Any], keys: RedisKeys) -> dict[str, str]:
    """The hash of each single-column unique constraint (value token -> primary key token)
    whose tokens are equal exactly when the values are (not so for floats and decimals: 0.0
    and -0.0 are equal values with two tokens)."""
    return {
        group[0]: f"{keys.meta}unique:{group[0]}"
        for group in described.unique_groups
        if len(group) == 1 and _exact_tokens(described.facts.kinds[group[0]])
    }


def _exact_tokens(kind: Any) -> bool:
    """Whether two values of ``kind`` have one token exactly when they are equal."""
    exact = (bool, int, str, uuid.UUID, datetime, date)
    return kind in exact or (isinstance(kind, type) and issubclass(kind, enum.Enum))


def keyed(condition: Condition | None, pk: str) -> tuple[Any, ...] | None:
    """The primary keys ``condition`` restricts the rows to, where it names them (``id == k``,
    ``id IN (...)``, or either within an AND); None where it does not."""
    match condition:
        case Compare(field=field, op="eq", value=value) if field == pk:
            return (value,)
        case InSet(field=field, values=values, negated=False) if field == pk:
            return tuple(value for value in values if value is not None)
        case And(items=items):
            for item in items:
                keys = keyed(item, pk)
                if keys is not None:
                    return keys
    return None


def unique_value(
    condition: Condition | None, described: RedisTable[Any], unique: dict[str, str]
) -> tuple[str, str] | None:
    """The field among ``unique`` and the value token ``condition`` requires (``field ==
    value``, alone or within an AND), or None."""
    match condition:
        case Compare(field=field, op="eq", value=value) if field in unique and value is not None:
            try:
                return field, unicode_text(described.codec_of[field].token(value))
            except ValueError:  # a value no row can hold: left to the index
                return None
        case And(items=items):
            for item in items:
                found = unique_value(item, described, unique)
                if found is not None:
                    return found
    return None


def search_arguments(
    index: str, command: str, query: str, *arguments: str | int, params: Sequence[str] = ()
) -> tuple[str | int, ...]:
    """FT.SEARCH or FT.AGGREGATE on ``index``: complete answers only (no timeout that would cut
    them short), in the query dialect the plans are written for."""
    bound: tuple[str | int, ...] = ("PARAMS", len(params), *params) if params else ()
    return (command, index, query, *arguments, *bound, "TIMEOUT", 0, "DIALECT", 2)


def count_arguments(index: str, query: str, params: Sequence[str]) -> tuple[str | int, ...]:
    """FT.SEARCH that counts the matches of ``query`` and returns no document."""
    return search_arguments(index, "FT.SEARCH", query, "NOCONTENT", "LIMIT", 0, 0, params=params)


def search_rows(described: RedisTable[Any], reply: Any) -> list[Row]:
    """The field values of the documents an FT.AGGREGATE reply LOADed as ``$``."""
    return [
        described.values(json.loads(result["extra_attributes"]["$"]))
        for result in _complete(described, reply)["results"]
    ]


def search_total(described: RedisTable[Any], reply: Any) -> int:
    """The number of matches an FT.SEARCH reply counted."""
    return int(_complete(described, reply)["total_results"])


def _complete(described: RedisTable[Any], reply: Any) -> Any:
    """``reply`` (a RESP3 map), once sure it is whole: a warning means it may not be."""
    if reply["warning"]:
        raise BackendUnavailableError(
            f"the search index of {described.facts.name} answered in part: "
            + "; ".join(str(warning) for warning in reply["warning"])
        )
    return reply
