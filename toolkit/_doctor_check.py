"""One check of ``python -m toolkit doctor``: what it found, and what to do about a failure."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table
from sqlmodel import SQLModel

__all__ = ["Check", "first_line", "model_table"]


@dataclass(frozen=True, slots=True)
class Check:
    """One check's outcome: one line of the doctor's report."""

    backend: str
    ok: bool
    message: str
    fix: str = ""
    """What to do about a failure."""

    def line(self) -> str:
        status = "ok  " if self.ok else "FAIL"
        fix = f" -- {self.fix}" if self.fix and not self.ok else ""
        return f"{status} {self.backend}: {self.message}{fix}"


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (a driver's further lines add hints and links)."""
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy's wrapper: the driver's error
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


def model_table(model: type[SQLModel]) -> Table:
    """The table of a table model."""
    # SQLModel sets __table__ at run time, on table models only: no type declares it.
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table
