"""How each field of a model is stored in a Redis JSON document, and back, exactly.

Datetimes as integer microseconds since the epoch (UTC), dates as days since the epoch, floats
and Decimals as text (RedisJSON prints some doubles inexactly), UUIDs and enums as their string
(or integer) values, JSON fields as JSON text (RedisJSON would turn integers beyond 64 bits into
doubles). Each codec also gives a value's token: its text in keys and constraint hashes.
"""

from __future__ import annotations

import enum
import json
import typing
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, TypeAdapter

__all__ = [
    "EXACT_NUMBERS",
    "TAG_BYTES",
    "FieldCodec",
    "dumps",
    "field_codec",
    "is_long",
    "unicode_text",
]

_INT64 = range(-(2**63), 2**63)

EXACT_NUMBERS = 2**53
"""Doubles, which the search index holds numbers as, hold every integer below this exactly."""

TAG_BYTES = 2**16
"""The search index keeps a tag's length in 16 bits: a text of this many UTF-8 bytes or more is
indexed as its first (length mod 2**16) bytes, the tag of some shorter text."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class FieldCodec:
    """How one field is stored: to JSON and back, and as a key token."""

    name: str
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]
    token: Callable[[Any], str]
    stored_type: Any  # the type redis-om sees for the field


def _identity(value: Any) -> Any:
    return value


def field_codec(name: str, kind: Any, adapter: TypeAdapter[Any], text: bool) -> FieldCodec:
    """The codec of field ``name`` of type ``kind`` (``| None`` removed), ``adapter`` its pydantic
    adapter; ``text``: its values are plain ``str``."""
    if kind is bool:
        return FieldCodec(name, _identity, bool, lambda v: "1" if v else "0", bool)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        values = [member.value for member in kind]
        if all(type(value) is int and value in _INT64 for value in values):
            return FieldCodec(name, lambda v: v.value, kind, lambda v: str(v.value), int)
        if all(isinstance(value, int) for value in values):  # beyond what RedisJSON keeps
            return FieldCodec(name, lambda v: str(v.value), lambda v: kind(int(v)), str, str)
        return FieldCodec(name, lambda v: v.value, kind, lambda v: str(v.value), str)
    if kind is int:
        return FieldCodec(name, _int64, int, _int64_text, int)
    if kind is float:
        # As text: RedisJSON prints some doubles one unit in the last place off.
        return FieldCodec(name, _float_to_text, float, repr, str)
    if kind is str:
        return FieldCodec(name, _text, _identity, _identity, str)
    if kind is uuid.UUID:
        return FieldCodec(name, str, uuid.UUID, str, str)
    if kind is datetime:
        return FieldCodec(name, _datetime_to_int, _int_to_datetime, _datetime_token, int)
    if kind is date:
        return FieldCodec(name, _date_to_int, _int_to_date, lambda v: str(_date_to_int(v)), int)
    if kind is Decimal:
        return FieldCodec(name, str, Decimal, lambda v: str(v.normalize()), str)

    # Anything else: pydantic's own JSON form. Containers (JSON fields) are kept as JSON text:
    # RedisJSON would turn integers beyond 64 bits into doubles, and SQL keeps them exactly.
    def token(value: Any) -> str:
        return json.dumps(adapter.dump_python(value, mode="json"), sort_keys=True)

    if _is_json_container(kind):
        return FieldCodec(
            name,
            lambda v: dumps(adapter.dump_python(v, mode="json")),
            lambda v: adapter.validate_python(json.loads(v)),
            token,
            str,
        )
    # Text types (constrained strings, e-mail addresses) come back as the text stored: it was
    # validated on the way in, and validating every row read again would cost more than the read.
    decode = _identity if text else adapter.validate_python
    return FieldCodec(
        name, lambda v: _json_value(adapter.dump_python(v, mode="json")), decode, token, str
    )


def _json_value(value: Any) -> Any:
    return _text(value) if isinstance(value, str) else value


def _is_json_container(kind: Any) -> bool:
    """Whether values of ``kind`` are JSON objects or arrays (dicts, lists, models, Any)."""
    origin = typing.get_origin(kind) or kind
    if origin is Any or origin in (dict, list, tuple, set, frozenset):
        return True
    return isinstance(origin, type) and issubclass(origin, (Mapping, BaseModel))


def is_long(text: str) -> bool:
    """Whether the index holds ``text`` as the tag of a shorter one (see `TAG_BYTES`)."""
    return len(text) * 4 >= TAG_BYTES and len(text.encode()) >= TAG_BYTES


def _text(value: str) -> str:
    # The search index ends a tag at a NUL, so it could neither match nor order such a value;
    # PostgreSQL refuses it too.
    if "\x00" in value:
        raise ValueError("text holding a NUL character cannot be stored")
    return value


def _int64(value: int) -> int:
    # RedisJSON keeps integers as 64-bit numbers; it would turn a wider one into a double.
    if value not in _INT64:
        raise ValueError(f"{value} is outside the 64-bit integers Redis keeps exactly")
    return value


def _int64_text(value: int) -> str:
    return str(_int64(value))


def _float_to_text(value: float) -> str:
    if value != value:  # refused before: see toolkit._values
        raise ValueError("NaN cannot be stored")
    return repr(value)


def _datetime_to_int(value: datetime) -> int:
    # Integer microseconds stay exact in the index (doubles hold integers up to 2**53).
    return (value - _EPOCH) // _MICROSECOND


def _int_to_datetime(value: int) -> datetime:
    return _EPOCH + value * _MICROSECOND


def _datetime_token(value: datetime) -> str:
    return str(_datetime_to_int(value))


def _date_to_int(value: date) -> int:
    return value.toordinal() - _EPOCH_DAY


def _int_to_date(value: int) -> date:
    return date.fromordinal(value + _EPOCH_DAY)


# One encoder for every document: `json.dumps` with options makes a new one at each call. No
# check for circular references: what is encoded is the codecs' output, plain data made from
# validated values (pydantic refuses a cyclic one), never a structure that refers to itself.
_ENCODE = json.JSONEncoder(
    separators=(",", ":"), allow_nan=False, ensure_ascii=False, check_circular=False
).encode


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``; ``ValueError`` for what Redis cannot keep exactly: NaN or
    infinity (JSON has no such numbers) and surrogate code points (see `unicode_text`)."""
    return unicode_text(_ENCODE(value))


def unicode_text(text: str) -> str:
    """``text``, when it is valid Unicode; ``ValueError`` for one holding surrogate code points.

    Redis receives text as UTF-8, which has no surrogates: a lone one cannot be sent (RedisJSON
    refuses its JSON escape), and a pair of them would come back as the one character they
    encode in UTF-16, a different string.
    """
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            bad = text[exc.start : exc.end]
            raise ValueError(
                f"{bad!r} is a surrogate code point, which Redis cannot store"
            ) from None
    return text
