"""Compared values that no row can hold, turned into conditions every backend runs exactly.

A filter value of the field's type that no stored row could have (`toolkit._values`: text with a
NUL, an integer beyond the column's width, NaN, a Decimal of 16 digits...) still means what it
says: ``==`` and ``in_`` match nothing, ``!=`` and ``not_in`` every row with a value, and ranges
what the order says (``age < 2**40`` on a 32-bit column: every row with an age). The backends
never see such a value, which some drivers would refuse to send.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from typing import Any

from toolkit._model import ModelFacts
from toolkit._values import DECIMAL_DIGITS, DECIMAL_EXPONENTS, Beyond, decimal_problem
from toolkit.query._tree import Compare, ComparisonOp, Condition, InSet, Never, Not, StartsWith

__all__ = ["held_compare", "held_in", "held_startswith"]

_INT64 = range(-(2**63), 2**63)
_UNHELD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
_FLOOR = Context(prec=DECIMAL_DIGITS, rounding=ROUND_FLOOR)
_CEILING = Context(prec=DECIMAL_DIGITS, rounding=ROUND_CEILING)


@dataclass(frozen=True, slots=True)
class _Gap:
    """Where an unheld value X falls among the held ones: the conditions that mean
    ``field < X`` (and ``<=``: no row equals X) and ``field > X`` (and ``>=``)."""

    below: Condition
    above: Condition


def held_compare(facts: ModelFacts[Any], field: str, op: ComparisonOp, value: Any) -> Condition:
    """``field op value``, with a value no row can hold folded away."""
    gap = _gap(facts, field, value)
    if gap is None:
        return Compare(field, op, value)
    if op == "eq":
        return Never(field)
    if op == "ne":
        return Not(Never(field))
    return gap.below if op in ("lt", "le") else gap.above


def held_in(
    facts: ModelFacts[Any], field: str, values: tuple[Any, ...], negated: bool
) -> Condition:
    """``field IN values`` (``NOT IN`` when ``negated``), without the values no row can hold."""
    kept = tuple(value for value in values if value is None or _gap(facts, field, value) is None)
    with contextlib.suppress(TypeError):  # values that cannot be hashed (JSON) stay as given
        kept = tuple(dict.fromkeys(kept))  # each value once: a long list may be of few values
    if values and not kept:  # only values no row holds: none equal the field's
        return Not(Never(field)) if negated else Never(field)
    return InSet(field, kept, negated)


def held_startswith(facts: ModelFacts[Any], field: str, prefix: str, negated: bool) -> Condition:
    """``field`` starts with ``prefix``; no held text starts with one holding NUL or a
    surrogate."""
    if _UNHELD_CHARACTER.search(prefix) is not None:
        return Not(Never(field)) if negated else Never(field)
    return StartsWith(field, prefix, negated)


def _gap(facts: ModelFacts[Any], field: str, value: Any) -> _Gap | None:
    """Where ``value`` falls among the values of ``field`` rows can hold; None: it is one."""
    kind = type(value)
    if kind is int:
        held = facts.int_ranges.get(field, _INT64)
        if value in held:
            return None
        return _beyond(field, high=value > 0)
    if kind is str:
        if field not in facts.text_fields or facts.problem(field, value) is None:
            return None
        return _text_gap(field, value)
    if kind is float:
        return _Gap(Never(field), Never(field)) if value != value else None  # NaN: unordered
    if kind is Decimal:
        return _decimal_gap(field, value)
    if kind is Beyond:
        return _beyond(field, high=value.high)
    return None


def _beyond(field: str, *, high: bool) -> _Gap:
    """Above every held value (``high``), or below every one."""
    if high:
        return _Gap(below=Not(Never(field)), above=Never(field))
    return _Gap(below=Never(field), above=Not(Never(field)))


def _text_gap(field: str, value: str) -> _Gap:
    found = _UNHELD_CHARACTER.search(value)
    if found is None:  # too long for an indexed column: no row equals it, the order holds
        return _Gap(below=Compare(field, "lt", value), above=Compare(field, "gt", value))
    head = value[: found.start()]
    if found.group() == "\x00":
        # Held text has no NUL: it is below X exactly when it is `head` or below it.
        return _Gap(below=Compare(field, "le", head), above=Compare(field, "gt", head))
    # Held text has no surrogate: the next code point up is where it starts to be above X.
    after = head + "\ue000"
    return _Gap(below=Compare(field, "lt", after), above=Compare(field, "ge", after))


def _decimal_gap(field: str, value: Decimal) -> _Gap | None:
    if value.is_zero() or decimal_problem(value) is None:  # -0 is 0, which is held
        return None
    exponent = value.adjusted()
    if exponent > DECIMAL_EXPONENTS[-1]:
        return _beyond(field, high=value > 0)
    if exponent < DECIMAL_EXPONENTS[0]:  # nearer zero than any held value but zero itself
        zero = Decimal(0)
        if value > 0:
            return _Gap(below=Compare(field, "le", zero), above=Compare(field, "gt", zero))
        return _Gap(below=Compare(field, "lt", zero), above=Compare(field, "ge", zero))
    # The nearest held values either side: rounding to 15 digits down and up.
    floor, ceiling = _FLOOR.plus(value), _CEILING.plus(value)
    below = Compare(field, "le", floor) if floor.adjusted() in DECIMAL_EXPONENTS else Never(field)
    above = (
        Compare(field, "ge", ceiling) if ceiling.adjusted() in DECIMAL_EXPONENTS else Never(field)
    )
    return _Gap(below, above)
