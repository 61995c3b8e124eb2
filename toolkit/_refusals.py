"""The one shape of a refused write's error, on every backend: which model, which fields, what
was wrong with them. No I/O.

Each backend finds out which constraint refused a write in its own way (the SQL wing from the
driver's error, the Redis wing from its write script's reply) and names it in the model's terms,
its field names; the errors are made here, so that the same refusal reads the same everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolkit.errors import ConflictError, ConstraintError

__all__ = [
    "being_written",
    "duplicate",
    "missing_parent",
    "missing_value",
    "other_refusal",
    "still_referenced",
]


def duplicate(model: str, fields: Sequence[str], pk_name: str, where: str = "") -> ConflictError:
    """A write that repeats a primary key (``fields`` is the key alone) or the values of a unique
    constraint (``fields``: its fields; none when the backend did not say which).

    ``where``: which row of several was refused, as " (item 3)", when the backend can tell."""
    if tuple(fields) == (pk_name,):
        told = f"a row with this {pk_name} exists"
    elif fields:
        told = f"{_joined(fields)} {'is' if len(fields) == 1 else 'are'} taken"
        if len(fields) > 1:
            told += " together"
    else:
        told = "a unique value is taken"
    return ConflictError(f"{model}: {told}{where}", model=model, fields=fields)


def being_written(model: str, fields: Sequence[str], where: str = "") -> ConflictError:
    """A write of a row (or naming a row, through ``fields``) that a staged batch is writing."""
    return ConflictError(
        f"{model}: the row is being written by a batch in progress{where}",
        model=model,
        fields=fields,
    )


def missing_parent(model: str, fields: Sequence[str], where: str = "") -> ConstraintError:
    """A foreign key naming a row that does not exist: ``fields`` are the foreign key's, or,
    where the backend does not say which of several (SQLite), every one the model has."""
    if len(fields) == 1:
        told = f"{fields[0]} refers to a missing row"
    elif fields:
        told = f"{_joined(fields, 'or')} refers to a missing row"
    else:
        told = "a foreign key refers to a missing row"
    return ConstraintError(f"{model}: {told}{where}", model=model, fields=fields)


def still_referenced(model: str) -> ConstraintError:
    """A delete refused because rows of another table still refer to the row (a foreign key
    without ON DELETE CASCADE or SET NULL). No field of ``model`` is at fault: none is named."""
    return ConstraintError(f"{model}: other rows still refer to this row", model=model)


def missing_value(model: str, fields: Sequence[str], where: str = "") -> ConstraintError:
    """A row without a value for a field that needs one (a primary key the store cannot
    generate, a NOT NULL column)."""
    told = f"{_joined(fields)} needs a value" if fields else "a required value is missing"
    return ConstraintError(f"{model}: {told}{where}", model=model, fields=fields)


def other_refusal(model: str) -> ConstraintError:
    """A constraint the toolkit cannot name in the model's terms (a CHECK constraint of the
    database's own)."""
    return ConstraintError(f"{model}: a constraint of the database refused the write", model=model)


def _joined(fields: Sequence[str], conjunction: str = "and") -> str:
    """``a``; ``a and b``; ``a, b and c``."""
    if len(fields) == 1:
        return fields[0]
    return f"{', '.join(fields[:-1])} {conjunction} {fields[-1]}"
