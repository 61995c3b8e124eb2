"""Keyset pages: where a page starts, and the signed cursor that carries it between calls."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from toolkit._model import ModelFacts, ModelT
from toolkit.errors import ValidationError
from toolkit.query._tree import And, Compare, Condition, IsNull, Or, Order, Page

__all__ = ["after", "check_window", "decode_cursor", "encode_cursor", "page_of"]

_WINDOW = 2**63  # limits and offsets SQL takes: BIGINT


def after(orders: Sequence[Order], position: Sequence[Any]) -> Condition:
    """Rows that come after ``position`` (the values of ``orders`` of one row) in that order."""
    alternatives: list[Condition] = []
    for index, order in enumerate(orders):
        equal = [_same(orders[i].field, position[i]) for i in range(index)]
        later = _later(order, position[index])
        if later is None:
            continue
        alternatives.append(And((*equal, later)) if equal else later)
    return Or(tuple(alternatives))


def _same(field: str, value: Any) -> Condition:
    return IsNull(field, negated=False) if value is None else Compare(field, "eq", value)


def _later(order: Order, value: Any) -> Condition | None:
    if order.descending:  # NULLs first, then values falling
        if value is None:
            return IsNull(order.field, negated=True)
        return Compare(order.field, "lt", value)
    if value is None:  # NULLs last: nothing comes after a NULL but other NULLs
        return None
    return Or((Compare(order.field, "gt", value), IsNull(order.field, negated=False)))


def check_window(limit: int | None, offset: int, *, page: bool = False) -> None:
    """`ValidationError` unless limit and offset are integers within 64 bits, neither negative
    (and a page size 1 or more), as SQL takes them."""
    least = 1 if page else 0
    if limit is not None and (type(limit) is not int or limit not in range(least, _WINDOW)):
        raise ValidationError(f"limit must be an integer from {least} to 2**63 - 1, not {limit!r}")
    if type(offset) is not int or offset not in range(_WINDOW):
        raise ValidationError(f"offset must be an integer from 0 to 2**63 - 1, not {offset!r}")


def encode_cursor(
    facts: ModelFacts[Any], orders: Sequence[Order], position: Sequence[Any], secret: bytes
) -> str:
    """An opaque, signed cursor holding ``position`` for this model and order."""
    values = [
        None if value is None else facts.adapter(order.field).dump_python(value, mode="json")
        for order, value in zip(orders, position, strict=True)
    ]
    payload = json.dumps({"o": _fingerprint(facts, orders), "v": values}, separators=(",", ":"))
    body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return f"{body}.{_signature(body, secret)}"


def decode_cursor(
    facts: ModelFacts[Any], orders: Sequence[Order], cursor: str, secret: bytes
) -> list[Any]:
    """The position a cursor holds; `ValidationError` if it was altered or is for another query."""
    body, _, signature = cursor.partition(".")
    if not hmac.compare_digest(signature, _signature(body, secret)):
        raise ValidationError("the page cursor is not valid (altered, or from elsewhere)")
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if payload["o"] != _fingerprint(facts, orders) or len(payload["v"]) != len(orders):
            raise ValidationError("the page cursor belongs to another model or order")
        return [
            facts.coerce(order.field, value)
            for order, value in zip(orders, payload["v"], strict=True)
        ]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise ValidationError("the page cursor is not valid") from exc


def page_of(
    facts: ModelFacts[Any], orders: Sequence[Order], rows: list[ModelT], limit: int, secret: bytes
) -> Page[ModelT]:
    """The page of up to ``limit`` of ``rows`` (fetched ``limit + 1`` to see if more follow)."""
    items = rows[:limit]
    if len(rows) <= limit:
        return Page(items=items, next_cursor=None)
    last = items[-1].__dict__
    position = [last[order.field] for order in orders]
    return Page(items=items, next_cursor=encode_cursor(facts, orders, position, secret))


def _fingerprint(facts: ModelFacts[Any], orders: Sequence[Order]) -> str:
    spec = ",".join(f"{order.field}{'-' if order.descending else '+'}" for order in orders)
    return hashlib.sha256(f"{facts.name}:{spec}".encode()).hexdigest()[:16]


def _signature(body: str, secret: bytes) -> str:
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()[:32]
