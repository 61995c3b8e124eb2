"""Hostile values of every kind, on all six paths: each stored exactly, or refused alike.

The rule (issue 9): a value is stored and read back exactly (equal, of the same type; a float
keeps its sign of zero) or refused with `ValidationError` before anything is written, also
from the middle of a `create_many`; bad data is never `BackendUnavailableError` nor a raw
exception. A filter value of the column's type that no row could hold matches nothing with
``==`` and ``in_`` and every non-NULL row with ``!=`` and ``not_in``; ranges give the exact
mathematical answer; ``startswith`` is literal and case-sensitive.

Hypothesis draws values of every field kind (`tests.value_models`), valid and invalid about
equally often: text with NUL, surrogates (lone and paired) and up to 100,000 characters;
integers at and past the 16-, 32- and 64-bit edges; NaN, infinities, -0.0, subnormal floats;
Decimals of any digit count and exponent, NaN and negative zeros; datetimes at the edges of
years 1 and 9999, with odd offsets and zones, and naive; dates, UUIDs, enum members; JSON with
NaN, sets, tuples, non-text keys, other objects and deep nesting; text primary keys of any
characters, ``""`` included (up to 600 characters, so 2,400 bytes at most: an indexed text
holds 2,000; plain tests try keys of 3,000 and 100,000 characters once per path). An oracle
written here from the rules, not from the toolkit, says whether each value is kept (and as
what) or refused. Each example writes one row or a batch; a kept value must come back exactly
from ``create`` and ``get``, be found by ``==`` and ``in_`` on its own value, and go with
``delete``; a refused one must raise `ValidationError` and leave the table empty. A second
property stores rows of kept values and checks filters by values of the column's type,
holdable or not, against Python's own comparisons.

Where the rules leave a reading open, these tests choose: a Decimal's significant digits are
counted exactly (trailing zeros stripped without rounding to the context's 28 digits, which
``Decimal.normalize`` would do), and its exponent bound applies to ``adjusted()`` of nonzero
values (a zero of any exponent equals zero: ``0E-400`` is kept, and tried by a plain test on
each path); a bare number in a JSON field is refused; JSON depth counts containers,
the outermost included (100 nested lists are kept, 101 refused); an e-mail address is kept as
pydantic's ``EmailStr`` makes it (the domain lowercased), and found by that form; the datetime
read back must carry ``datetime.UTC`` itself.

One sync test function drives both modes of a backend: the sync repository directly, the async
one through an `asyncio.Runner` that lives as long as the test (as in
``tests/test_query_properties.py``). Each example starts from an empty table: emptied by a
connection of the test's own, unless the previous example counted it empty at its end. A few
explicit examples (``@hypothesis.example``) pin the edges every run must try.

``TOOLKIT_VALUE_EXAMPLES`` sets the examples per property and path (default: the value of
``TOOLKIT_PROPERTY_EXAMPLES``, else 100, which CI runs); ``TOOLKIT_VALUE_REPORT=/path/file.md``
writes the outcomes counted per path (kept, refused, raw exceptions, silently changed values,
`BackendUnavailableError`, ...) as a markdown table when the session ends (a failing
property's shrinking replays are counted too; a passing run counts each example once). CI
mode takes about two minutes; the long run, ten times the examples::

    TOOLKIT_VALUE_EXAMPLES=1000 TOOLKIT_VALUE_REPORT=values.md \\
        .venv/bin/python -m pytest tests/test_value_properties.py -p no:cacheprovider
"""

from __future__ import annotations

import asyncio
import builtins
import math
import operator
import os
import random
import re
import struct
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar, cast
from zoneinfo import ZoneInfo

import hypothesis
import pydantic
import pytest
import redis
from hypothesis import HealthCheck, Phase, assume, given
from hypothesis import strategies as st
from pydantic import EmailStr, TypeAdapter
from sqlalchemy import Engine, create_engine, delete
from sqlmodel import SQLModel, col

from models import UserAccount
from tests.services import drop_table
from tests.value_models import (
    ValueDecimal,
    ValueDocument,
    ValueKeyed,
    ValueLevel,
    ValueMoment,
    ValueMood,
    ValueNumber,
    ValueText,
)
from toolkit.config import Settings
from toolkit.errors import BackendUnavailableError, ToolkitError, ValidationError
from toolkit.query import Where
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.providers import RepositoryProvider
from toolkit.repositories.redis._keys import redis_keys
from toolkit.repositories.sql._postgres import POSTGRES
from toolkit.repositories.sql._sqlite import SQLITE
from toolkit.repositories.sync_base import BaseSyncRepository
from toolkit.repositories.sync_providers import SyncRepositoryProvider
from toolkit.storage_dependencies import get_provider
from toolkit.sync_storage_dependencies import get_sync_provider

EXAMPLES = int(
    os.environ.get("TOOLKIT_VALUE_EXAMPLES", os.environ.get("TOOLKIT_PROPERTY_EXAMPLES", "100"))
)
REPORT_ENV = "TOOLKIT_VALUE_REPORT"

properties = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
    # Shrinking runs backend calls one after another: shrink the first failure only, and skip
    # the "explain" phase (it reruns every call under a tracer).
    report_multiple_bugs=False,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    print_blob=True,
)
slow = pytest.mark.timeout(120 + 2 * EXAMPLES)
# A failing example holding 100,000 characters makes Hypothesis warn while it prints it; the
# failure, not the warning, is what the report must show.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Generating overly large repr:hypothesis.errors.HypothesisWarning"
)

M = TypeVar("M", bound=SQLModel)


# --- outcomes, counted per path and written as a table at the end of the session ---------------

KEPT = "kept"
REFUSED = "refused"
REFUSED_WITH_BATCH = "refused with its batch"
FILTERS = "filters"
RAW = "raw exceptions"
CHANGED = "changed values"
UNAVAILABLE = "BackendUnavailableError"
OTHER_ERROR = "other toolkit errors"
WRONGLY_KEPT = "kept, should be refused"
WRONGLY_REFUSED = "refused, should be kept"
PARTLY_WRITTEN = "refused but written"
MISSED = "filter or delete wrong"
COLUMNS = [
    KEPT,
    REFUSED,
    REFUSED_WITH_BATCH,
    FILTERS,
    RAW,
    CHANGED,
    UNAVAILABLE,
    OTHER_ERROR,
    WRONGLY_KEPT,
    WRONGLY_REFUSED,
    PARTLY_WRITTEN,
    MISSED,
]
PATHS = {
    ("postgres", "async"): "PostgreSQL, asyncpg",
    ("postgres", "sync"): "PostgreSQL, psycopg2",
    ("sqlite", "async"): "SQLite, aiosqlite",
    ("sqlite", "sync"): "SQLite, sqlite3",
    ("redis", "async"): "Redis, asyncio",
    ("redis", "sync"): "Redis, sync",
}
TALLY: Counter[tuple[str, str]] = Counter()


def report(tally: Counter[tuple[str, str]]) -> str:
    lines = [
        f"Hostile-value suite: {EXAMPLES} examples per property and path "
        "(`tests/test_value_properties.py`); values written, and filters run.",
        "",
        "| path | examples | " + " | ".join(COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 2) + "|",
    ]
    for path in PATHS.values():
        counts = [tally[path, column] for column in ["examples", *COLUMNS]]
        lines.append(f"| {path} | " + " | ".join(f"{count:,}" for count in counts) + " |")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session", autouse=True)
def value_report() -> Iterator[None]:
    """Writes the outcome counts to ``$TOOLKIT_VALUE_REPORT`` when the session ends."""
    yield
    target = os.environ.get(REPORT_ENV)
    if target:
        Path(target).write_text(report(TALLY), encoding="utf-8")


def shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 300 else f"{text[:150]}...({len(text)} characters)...{text[-80:]}"


key_of: Callable[[SQLModel], Any] = operator.attrgetter("id")
"""The primary key of a value model's row (every one names it ``id``)."""


class Verdict(AssertionError):
    """A rule broken: the failure the test reports, after the outcome was counted."""


# --- one repository API, called synchronously in both modes --------------------------------------


class Repo(Generic[M]):
    """A repository of the path under test, each call run to completion (async: on the test's
    runner); a call that raises anything but `ValidationError` fails the test, counted."""

    def __init__(
        self,
        path: str,
        sync: BaseSyncRepository[M] | None = None,
        asynchronous: BaseRepository[M] | None = None,
        runner: asyncio.Runner | None = None,
    ) -> None:
        self.path = path
        self._sync = sync
        self._async = asynchronous
        self._runner = runner

    def _call(
        self,
        what: str,
        sync: Callable[[BaseSyncRepository[M]], Any],
        run: Callable[[BaseRepository[M]], Coroutine[Any, Any, Any]],
    ) -> Any:
        try:
            if self._sync is not None:
                return sync(self._sync)
            assert self._async is not None
            assert self._runner is not None
            return self._runner.run(run(self._async))
        except ValidationError:
            raise
        except BackendUnavailableError as exc:
            TALLY[self.path, UNAVAILABLE] += 1
            raise Verdict(f"{self.path}: {what}: BackendUnavailableError for data: {exc}") from exc
        except ToolkitError as exc:
            TALLY[self.path, OTHER_ERROR] += 1
            raise Verdict(f"{self.path}: {what}: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:
            TALLY[self.path, RAW] += 1
            raise Verdict(f"{self.path}: {what}: raw {type(exc).__name__}: {exc}") from exc

    def create(self, model: M) -> M:
        result: M = self._call("create", lambda r: r.create(model), lambda r: r.create(model))
        return result

    def create_many(self, models: Sequence[M]) -> list[M]:
        result: list[M] = self._call(
            "create_many", lambda r: r.create_many(models), lambda r: r.create_many(models)
        )
        return result

    def get(self, id: Any) -> M | None:
        result: M | None = self._call("get", lambda r: r.get(id), lambda r: r.get(id))
        return result

    def list(self, *where: Where, limit: int | None = None) -> builtins.list[M]:
        result: builtins.list[M] = self._call(
            "list",
            lambda r: r.list(*where, limit=limit),
            lambda r: r.list(*where, limit=limit),
        )
        return result

    def first(self, *where: Where) -> M | None:
        result: M | None = self._call("first", lambda r: r.first(*where), lambda r: r.first(*where))
        return result

    def count(self, *where: Where) -> int:
        result: int = self._call("count", lambda r: r.count(*where), lambda r: r.count(*where))
        return result

    def delete(self, id: Any) -> bool:
        result: bool = self._call("delete", lambda r: r.delete(id), lambda r: r.delete(id))
        return result

    def delete_many(self, ids: Sequence[Any]) -> int:
        result: int = self._call(
            "delete_many", lambda r: r.delete_many(ids), lambda r: r.delete_many(ids)
        )
        return result


class Store:
    """One backend in one mode: repositories of the value models on emptied tables.

    One provider serves the whole test. Tables are emptied by a connection of the test's own:
    SQL rows with a DELETE; on Redis the documents the table's key set lists, and the key set
    (the test's key prefix is its own and is dropped at the end). A table the previous example
    left empty, as its last count showed, is not emptied again.
    """

    def __init__(self, settings: Settings, backend: str, mode: str) -> None:
        self.path = PATHS[backend, mode]
        self._settings = settings
        self._runner = asyncio.Runner() if mode == "async" else None
        self._stack = AsyncExitStack()
        self._sync_stack = ExitStack()
        self._provider: RepositoryProvider | None = None
        self._sync_provider: SyncRepositoryProvider | None = None
        self._engine: Engine | None = None
        self._redis: redis.Redis[str] | None = None
        self._used: set[type[SQLModel]] = set()
        self._empty_tables: set[type[SQLModel]] = set()  # known empty: no DELETE needed
        if backend == "redis":
            self._redis = redis.Redis.from_url(revealed(settings.redis_url), decode_responses=True)
        else:
            dialect = POSTGRES if backend == "postgres" else SQLITE
            self._engine = create_engine(dialect.url(settings, is_async=False))

    def _empty(self, model: type[SQLModel]) -> None:
        name = str(model.__tablename__)
        if self._engine is not None:
            with self._engine.begin() as connection:
                connection.execute(delete(SQLModel.metadata.tables[name]))
        if self._redis is not None:
            keys = redis_keys(self._settings.redis_key_prefix, name)
            tokens = self._redis.zrange(keys.ids, 0, -1)
            self._redis.delete(keys.ids, *(keys.document(token) for token in tokens))

    def left_empty(self, model: type[SQLModel]) -> None:
        """The example just run counted no row of ``model`` left: the next needs no DELETE
        (which costs a commit, and on SQLite a sync to disk)."""
        self._empty_tables.add(model)

    def repo(self, model: type[M]) -> Repo[M]:
        """A repository of ``model`` on its table, emptied."""
        self._used.add(model)
        if model not in self._empty_tables:
            self._empty(model)
        self._empty_tables.discard(model)  # until an example proves it empty again
        if self._runner is None:
            if self._sync_provider is None:
                self._sync_provider = self._sync_stack.enter_context(
                    get_sync_provider(settings=self._settings)
                )
            return Repo(self.path, sync=self._sync_provider.get_repository(model))
        if self._provider is None:
            self._provider = self._runner.run(
                self._stack.enter_async_context(get_provider(settings=self._settings))
            )
        return Repo(
            self.path, asynchronous=self._provider.get_repository(model), runner=self._runner
        )

    def close(self) -> None:
        if self._runner is not None:
            self._runner.run(self._stack.aclose())
            self._runner.close()
        if self._sync_provider is not None:
            self._sync_stack.close()
        if self._engine is not None:
            self._engine.dispose()
        if self._redis is not None:
            self._redis.close()
            for model in self._used:
                drop_table(self._settings, "redis", model)


def revealed(url: object) -> str:
    """A URL setting as text (a secret type on newer settings, a plain string on older)."""
    reveal = getattr(url, "get_secret_value", None)
    return str(reveal() if callable(reveal) else url)


@pytest.fixture(params=["async", "sync"])
def mode(request: pytest.FixtureRequest) -> str:
    """Which API the test drives; each test runs once per mode (and per backend)."""
    name: str = request.param
    return name


@pytest.fixture
def store(settings: Settings, backend: str, mode: str) -> Iterator[Store]:
    opened = Store(settings, backend, mode)
    try:
        yield opened
    finally:
        opened.close()


# --- the oracle: kept (as what) or refused, from the rules alone ---------------------------------


@dataclass(frozen=True, slots=True)
class Kept:
    """The value is stored; this is what must come back (equal, of the same type)."""

    value: Any


@dataclass(frozen=True, slots=True)
class Refused:
    """The value must be refused with `ValidationError`; why."""

    reason: str


Expected = Kept | Refused

UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
SURROGATES = re.compile("[\ud800-\udfff]")  # JSON text keeps NUL
EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)
PRICE: TypeAdapter[Decimal] = TypeAdapter(
    Annotated[Decimal, pydantic.Field(max_digits=12, decimal_places=2)]
)


def expect_text(value: str) -> Expected:
    if UNSTORABLE_TEXT.search(value):
        return Refused("text holding NUL or a surrogate")
    return Kept(value)


INDEXED_TEXT_BYTES = 2_000


def expect_key(value: str) -> Expected:
    """A text primary key: the rule of text, and at most 2,000 bytes of UTF-8, as every indexed
    text column (PostgreSQL's btree entries hold about 2,700)."""
    verdict = expect_text(value)
    if isinstance(verdict, Kept) and len(value.encode()) > INDEXED_TEXT_BYTES:
        return Refused("an indexed text beyond 2,000 bytes")
    return verdict


def expect_short(value: str) -> Expected:
    if not 2 <= len(value) <= 40:
        return Refused("length outside 2..40")
    return expect_text(value)


def expect_email(value: str) -> Expected:
    if UNSTORABLE_TEXT.search(value):
        return Refused("text holding NUL or a surrogate")
    try:
        return Kept(EMAIL.validate_python(value))
    except pydantic.ValidationError:
        return Refused("not an e-mail address")


def expect_int(bits: int) -> Callable[[int], Expected]:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def expect(value: int) -> Expected:
        return Kept(value) if low <= value <= high else Refused(f"outside {bits} bits")

    return expect


def expect_float(value: float) -> Expected:
    if math.isnan(value):
        return Refused("NaN")
    if value == 0 and math.copysign(1.0, value) < 0:
        return Refused("-0.0")
    return Kept(value)


def significant_digits(value: Decimal) -> int:
    """Digits once trailing zeros are stripped, counted exactly (no context rounding)."""
    digits = list(value.as_tuple().digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
    return len(digits)


def expect_decimal(value: Decimal) -> Expected:
    if not value.is_finite():
        return Refused("not finite")
    if value.is_zero():  # zero, of any exponent: equal to every other zero
        return Refused("negative zero") if value.is_signed() else Kept(value)
    if significant_digits(value) > 15:
        return Refused("more than 15 significant digits")
    if not -307 <= value.adjusted() <= 307:
        return Refused("adjusted exponent outside -307..307")
    return Kept(value)


def expect_price(value: Decimal) -> Expected:
    verdict = expect_decimal(value)
    if isinstance(verdict, Refused):
        return verdict
    try:
        PRICE.validate_python(value)
    except pydantic.ValidationError:
        return Refused("beyond max_digits=12, decimal_places=2")
    return Kept(value)


def expect_datetime(value: datetime) -> Expected:
    offset = value.utcoffset()
    if offset is None:
        return Refused("naive")
    try:
        return Kept((value.replace(tzinfo=None) - offset).replace(tzinfo=UTC))
    except OverflowError:
        return Refused("outside years 1..9999 in UTC")


def expect_as_is(value: Any) -> Expected:
    return Kept(value)


JSON_DEPTH = 100


def json_problem(value: object) -> str | None:
    """Why ``value`` is no JSON value kept exactly, or None (walked without recursion)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if item is None or kind is bool or kind is int:
            continue
        if kind is float:
            if not math.isfinite(cast(float, item)):
                return "a non-finite float"
        elif kind is str:
            if SURROGATES.search(cast(str, item)):
                return "text holding a surrogate"
        elif kind is list or kind is dict:
            if depth + 1 > JSON_DEPTH:
                return f"nested deeper than {JSON_DEPTH}"
            if isinstance(item, dict):
                for key, child in item.items():
                    if type(key) is not str:
                        return f"a {type(key).__name__} key"
                    if SURROGATES.search(key):
                        return "a key holding a surrogate"
                    stack.append((child, depth + 1))
            else:
                assert isinstance(item, list)
                stack.extend((child, depth + 1) for child in item)
        else:
            return f"a {kind.__name__}"
    return None


def expect_json(value: Any) -> Expected:
    if type(value) is int or type(value) is float:
        # SQLite's JSON column gives a bare number a number's storage (1.0 comes back as 1).
        return Refused("a bare number")
    problem = json_problem(value)
    return Kept(value) if problem is None else Refused(problem)


def expect_json_object(value: Any) -> Expected:
    if value is None:
        return Kept(None)  # the field is optional: NULL
    if type(value) is not dict:
        return Refused("not an object")
    return expect_json(value)


def same(expected: Any, actual: Any) -> bool:
    """Equal and of the same type all the way down; floats with their sign of zero; datetimes
    in ``datetime.UTC``."""
    if type(expected) is not type(actual):
        return False
    if isinstance(expected, float):
        if math.isnan(expected):
            return math.isnan(actual)
        return expected == actual and math.copysign(1.0, expected) == math.copysign(1.0, actual)
    if isinstance(expected, Decimal):
        return expected.is_nan() == actual.is_nan() and (expected.is_nan() or expected == actual)
    if isinstance(expected, dict):
        return expected.keys() == actual.keys() and all(
            same(item, actual[key]) for key, item in expected.items()
        )
    if isinstance(expected, list):
        return len(expected) == len(actual) and all(map(same, expected, actual))
    if isinstance(expected, datetime):
        return actual.tzinfo is UTC and expected == actual
    return bool(expected == actual)


def comparable(value: Any) -> Any:
    """What Python compares for the rules: a datetime as its instant (no overflow at the
    edges, and no PEP 495 fold exception), anything else as itself."""
    if isinstance(value, datetime):
        offset = value.utcoffset()
        assert offset is not None
        return value.replace(tzinfo=None) - datetime(1, 1, 1) - offset
    return value


# --- strategies: valid and invalid about equally often -------------------------------------------


def mix(*weighted: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each drawn in proportion to its weight."""
    choices = [strategy for weight, strategy in weighted for _ in range(weight)]
    return st.sampled_from(choices).flatmap(lambda strategy: strategy)


METACHARACTERS = (
    "%_\\'\"|{}[]:*@-$~^()!?,.;<>=&#`+/ \t\n\r\x01\x1f\x7f\x85\xa0\u2028\u2029\ufeff\ufffd"
    "\uffff\U0010ffff\U0001f600éÉßİ\u0131"
)
SURROGATE_CATEGORY: list[Literal["Cs"]] = ["Cs"]
STORABLE_CHARACTERS = st.characters(
    exclude_categories=SURROGATE_CATEGORY, exclude_characters="\x00"
)
SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
POISON = st.one_of(
    st.just("\x00"),
    SURROGATE,
    st.just("\ud83d\ude00"),  # a pair, as two code points
    st.tuples(
        st.characters(min_codepoint=0xD800, max_codepoint=0xDBFF),
        st.characters(min_codepoint=0xDC00, max_codepoint=0xDFFF),
    ).map("".join),
)
short_texts = st.text(st.one_of(STORABLE_CHARACTERS, st.sampled_from(METACHARACTERS)), max_size=24)
BIG_ALPHABET = [*"abcxyzABC019 %_\\:{}|\x01\n", "é", "中", "\U0001f600", "\u2028", "\uffff"]


@st.composite
def poisoned(draw: st.DrawFn, texts: st.SearchStrategy[str] = short_texts) -> str:
    text = draw(texts)
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(POISON) + text[at:]


@st.composite
def huge_texts(draw: st.DrawFn, smallest: int = 1_000, largest: int = 100_000) -> str:
    """``smallest`` to ``largest`` characters, from a seed (random, or one short text
    repeated), sometimes with NUL or a surrogate somewhere."""
    edges = [size for size in (1_000, 2_704, 8_192, 65_536, 100_000) if size <= largest]
    size = draw(st.sampled_from(edges or [largest]) | st.integers(smallest, largest))
    seed = draw(st.integers(0, 2**32))
    if draw(st.booleans()):
        text = "".join(random.Random(seed).choices(BIG_ALPHABET, k=size))
    else:
        unit = draw(st.text(STORABLE_CHARACTERS, min_size=1, max_size=5))
        text = (unit * (size // len(unit) + 1))[:size]
    if draw(st.integers(0, 2)) == 0:
        at = draw(st.integers(0, size))
        text = text[:at] + draw(POISON) + text[at:]
    return text


texts = mix(
    (4, short_texts),
    (1, st.just("")),
    (4, poisoned()),
    (1, huge_texts()),
)
# Keys up to 600 characters (2,400 bytes of UTF-8 at most): longer ones pass PostgreSQL's
# btree entry limit, which the plain tests below try once per path rather than letting it
# stop every property on PostgreSQL before anything else is tried.
keys = mix(
    (4, short_texts),
    (1, st.just("")),
    (4, poisoned()),
    (1, huge_texts(100, 600)),
)

email_locals = st.text(
    st.sampled_from("abcXYZ019._%+-'!#$&*/=?^`{|}~é"), min_size=1, max_size=20
) | st.sampled_from(["a_b", "a%b", "A_B", "x" * 64, "x" * 65, ".a", "a..b", ""])
email_domains = st.lists(
    st.text(st.sampled_from("abcXYZ019-é"), min_size=1, max_size=12), min_size=1, max_size=3
).map(".".join) | st.sampled_from(["example.com", "EXAMPLE.COM", "localhost", "例え.jp", "a.b"])
emails = mix(
    (5, st.builds(lambda local, domain: f"{local}@{domain}", email_locals, email_domains)),
    (2, texts),
    (
        2,
        poisoned(st.builds(lambda local, domain: f"{local}@{domain}", email_locals, email_domains)),
    ),
)


def integers_for(bits: int) -> st.SearchStrategy[int]:
    edges = [2**k for k in (7, 8, 15, 16, 31, 32, 53, 63, 64, 70, 100)]
    near_edges = st.builds(
        lambda edge, sign, step: sign * edge + step,
        st.sampled_from(edges),
        st.sampled_from([1, -1]),
        st.integers(-2, 1),
    )
    return mix(
        (3, near_edges),
        (2, st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)),
        (1, st.integers()),
        (1, st.integers(-(2**80), 2**80)),
    )


NAN_PAYLOADS = st.builds(
    lambda mantissa, sign: struct.unpack(
        "<d", struct.pack("<Q", sign | 0x7FF0000000000000 | mantissa)
    )[0],
    st.integers(1, 2**52 - 1),
    st.sampled_from([0, 1 << 63]),
)
EDGE_FLOATS = [
    math.inf,
    -math.inf,
    0.0,
    5e-324,
    -5e-324,
    2.225073858507201e-308,  # the largest subnormal
    2.2250738585072014e-308,  # the smallest normal
    1.7976931348623157e308,
    -1.7976931348623157e308,
    0.1,
    1 / 3,
    2.0**53 + 2,
    float(2**63),
    123456789.12345679,
    1e-7,
]
floats = mix(
    (3, st.floats()),
    (2, st.sampled_from(EDGE_FLOATS)),
    (1, st.sampled_from([math.nan, -math.nan])),
    (1, NAN_PAYLOADS),
    (1, st.just(-0.0)),
)

ADJUSTED_EDGES = [-400, -308, -307, -306, -30, -3, 0, 2, 9, 11, 14, 15, 30, 306, 307, 308, 400]
DIGIT_COUNTS = [1, 2, 12, 13, 14, 15, 16, 17, 28, 29, 40]
SPECIAL_DECIMALS = [
    Decimal(text)
    for text in (
        "NaN",
        "-NaN",
        "sNaN",
        "Infinity",
        "-Infinity",
        "-0",
        "-0.00",
        "0",
        "0.00",
        "0E+5",
        "-0E+3",
        "1E-30",
        "1E+30",
        "5E-324",
        "1.7976931348623157E+308",
        "999999999999999",
        "9999999999.99",
        "0.1",
    )
]


@st.composite
def finite_decimals(draw: st.DrawFn, adjusted: st.SearchStrategy[int]) -> Decimal:
    """A nonzero Decimal: a digit count, trailing zeros, a sign and an adjusted exponent."""
    count = draw(st.sampled_from(DIGIT_COUNTS) | st.integers(1, 18))
    significand = draw(st.integers(10 ** (count - 1), 10**count - 1))
    trailing = draw(st.sampled_from([0, 0, 0, 1, 3, 20]))
    digits = tuple(int(digit) for digit in str(significand)) + (0,) * trailing
    sign = draw(st.integers(0, 1))
    return Decimal((sign, digits, draw(adjusted) - (len(digits) - 1)))


decimals = mix(
    (5, finite_decimals(st.sampled_from(ADJUSTED_EDGES) | st.integers(-20, 20))),
    (2, st.sampled_from(SPECIAL_DECIMALS)),
)
prices = mix(
    (3, st.decimals(min_value=-(10**10) + 1, max_value=10**10 - 1, places=2)),
    (1, st.decimals(min_value=-(10**3), max_value=10**3, places=3)),
    (2, finite_decimals(st.integers(-4, 13))),
    (1, st.sampled_from(SPECIAL_DECIMALS)),
)

ZONES = [
    ZoneInfo(name)
    for name in (
        "Europe/Paris",
        "America/St_Johns",
        "Asia/Kathmandu",
        "Pacific/Kiritimati",
        "America/Adak",
        "Australia/Lord_Howe",
        "UTC",
    )
]
DAY = timedelta(hours=24)
EDGE_OFFSETS = [
    timedelta(0),
    timedelta(microseconds=1),
    -timedelta(microseconds=1),
    timedelta(hours=14),
    -timedelta(hours=12),
    timedelta(hours=5, minutes=45),
    -timedelta(hours=9, minutes=30),
    timedelta(seconds=1),
    DAY - timedelta(microseconds=1),
    -DAY + timedelta(microseconds=1),
]
offsets = st.sampled_from(EDGE_OFFSETS) | st.timedeltas(
    min_value=-DAY + timedelta(microseconds=1), max_value=DAY - timedelta(microseconds=1)
)
zones: st.SearchStrategy[tzinfo] = mix(
    (3, offsets.map(timezone)),
    (2, st.sampled_from(ZONES)),
    (1, st.just(UTC)),
)
EDGE_MOMENTS = [
    datetime(1, 1, 1),
    datetime(1, 1, 1, 23, 59, 59, 999999),
    datetime(1, 1, 2),
    datetime(9999, 12, 31),
    datetime(9999, 12, 31, 23, 59, 59, 999999),
    datetime(1970, 1, 1),
    datetime(2038, 1, 19, 3, 14, 8),
]
datetimes = mix(
    (4, st.datetimes(timezones=zones)),
    (
        3,
        st.builds(
            lambda moment, zone: moment.replace(tzinfo=zone), st.sampled_from(EDGE_MOMENTS), zones
        ),
    ),
    (2, st.datetimes()),  # naive
)
dates = st.dates() | st.sampled_from([date.min, date.max, date(1970, 1, 1), date(2000, 2, 29)])
uuids = st.uuids() | st.sampled_from([uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)])

# JSON: text of any characters (NUL too) but surrogates, integers of any size, finite floats.
json_texts = st.text(
    st.one_of(STORABLE_CHARACTERS, st.sampled_from(METACHARACTERS + "\x00")), max_size=10
)
json_scalars = mix(
    (2, st.none() | st.booleans()),
    (2, st.integers()),
    (1, st.sampled_from([2**63, 2**64 + 1, -(2**100), 2**100])),
    (2, st.floats(allow_nan=False, allow_infinity=False)),
    (1, st.just(-0.0)),
    (3, json_texts),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_texts, inner, max_size=4),
    max_leaves=12,
)
NOT_JSON_OBJECTS = [
    Decimal("1.5"),
    datetime(2020, 1, 1, tzinfo=UTC),
    date(2020, 1, 1),
    uuid.UUID(int=1),
    b"bytes",
    complex(1, 2),
    frozenset({1}),
    (),
    object(),
]
hostile_items = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.sets(st.integers(), max_size=3),
    st.tuples(json_scalars),
    st.dictionaries(
        st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False) | st.tuples(),
        json_scalars,
        min_size=1,
        max_size=2,
    ),
    st.sampled_from(NOT_JSON_OBJECTS),
    poisoned(json_texts),
    st.builds(lambda key, item: {key: item}, poisoned(json_texts), json_scalars),
)


def nested(depth: int, leaf: Any, as_dicts: bool) -> Any:
    """``depth`` containers, one inside the other, around ``leaf``."""
    value = leaf
    for _ in range(depth):
        value = {"k": value} if as_dicts else [value]
    return value


deep_json = st.builds(
    nested,
    st.sampled_from([1, 2, 99, 100, 101, 102, 150, 300]),
    json_scalars,
    st.booleans(),
)


@st.composite
def hostile_json(draw: st.DrawFn) -> Any:
    """A JSON value with one item that is not JSON (or not keepable) somewhere inside."""
    item = draw(hostile_items)
    for _ in range(draw(st.integers(0, 3))):
        item = {draw(json_texts): item} if draw(st.booleans()) else [draw(json_scalars), item]
    base = draw(json_values)
    if isinstance(base, dict):
        return {**base, draw(json_texts): item}
    if isinstance(base, list):
        return [*base, item]
    return item


json_anything = mix((4, json_values), (3, hostile_json()), (1, deep_json))
json_objects = mix(
    (4, st.dictionaries(json_texts, json_values, max_size=5)),
    (3, hostile_json().map(lambda value: value if isinstance(value, dict) else {"v": value})),
    (1, deep_json.map(lambda value: {"d": value})),
    (1, json_values.filter(lambda value: not isinstance(value, dict))),
)


# --- the field kinds ---------------------------------------------------------------------------


class Spec:
    """A field of a value model: its values, the oracle, and what filters apply.

    A plain class, not a dataclass: Hypothesis prints a dataclass field by field, strategies
    included, in every failure report."""

    def __init__(
        self,
        model: type[SQLModel],
        field: str,
        values: st.SearchStrategy[Any],
        expect: Callable[[Any], Expected],
        *,
        filterable: bool = True,
        textual: bool = False,
        filter_values: st.SearchStrategy[Any] | None = None,
    ) -> None:
        self.model = model
        self.field = field
        self.values = values
        self.expect = expect
        self.filterable = filterable
        self.textual = textual  # startswith applies
        # Filter values of the column's type, holdable or not (None: no such property).
        self.filter_values = filter_values

    @property
    def name(self) -> str:
        return f"{self.model.__name__}.{self.field}"

    @property
    def is_key(self) -> bool:
        return self.field == "id"

    def build(self, value: Any) -> SQLModel:
        return self.model(**{self.field: value})

    def column(self) -> Any:
        return col(getattr(self.model, self.field))

    def __repr__(self) -> str:
        return self.name


TEXT = Spec(ValueText, "text", texts, expect_text, textual=True, filter_values=texts)
SHORT = Spec(ValueText, "short", texts, expect_short, textual=True, filter_values=texts)
E_MAIL = Spec(ValueText, "email", emails, expect_email, textual=True, filter_values=emails)
KEY = Spec(ValueKeyed, "id", keys, expect_key, textual=True, filter_values=texts)
SMALL = Spec(ValueNumber, "small", integers_for(16), expect_int(16), filter_values=integers_for(16))
REGULAR = Spec(
    ValueNumber, "regular", integers_for(32), expect_int(32), filter_values=integers_for(32)
)
BIG = Spec(ValueNumber, "big", integers_for(64), expect_int(64), filter_values=integers_for(64))
FLAG = Spec(ValueNumber, "flag", st.booleans(), expect_as_is)
REAL = Spec(ValueNumber, "real", floats, expect_float, filter_values=floats)
AMOUNT = Spec(
    ValueDecimal,
    "amount",
    decimals,
    expect_decimal,
    filter_values=decimals.filter(lambda value: value.is_finite()),
)
PRICE_SPEC = Spec(
    ValueDecimal,
    "price",
    prices,
    expect_price,
    filter_values=prices.filter(lambda value: value.is_finite()),
)
AT = Spec(
    ValueMoment,
    "at",
    datetimes,
    expect_datetime,
    filter_values=datetimes.filter(lambda value: value.utcoffset() is not None),
)
DAY_SPEC = Spec(ValueMoment, "day", dates, expect_as_is)
TOKEN = Spec(ValueMoment, "token", uuids, expect_as_is)
MOMENT_KEY = Spec(ValueMoment, "id", uuids, expect_as_is)
MOOD = Spec(ValueMoment, "mood", st.sampled_from(ValueMood), expect_as_is)
LEVEL = Spec(ValueMoment, "level", st.sampled_from(ValueLevel), expect_as_is)
DATA = Spec(ValueDocument, "data", json_objects, expect_json_object, filterable=False)
ANYTHING = Spec(ValueDocument, "anything", json_anything, expect_json, filterable=False)

FILTERED = [TEXT, SHORT, E_MAIL, KEY, SMALL, REGULAR, BIG, REAL, AMOUNT, PRICE_SPEC, AT]


# --- one example: write, judge, read back, filter, delete ----------------------------------------


def rows_of(*tables: Sequence[Spec]) -> st.SearchStrategy[list[tuple[Spec, Any]]]:
    """One row (mostly) or a batch of rows of one of ``tables`` (the fields of one model, a
    field listed twice drawn twice as often), each row holding one drawn value of one field."""

    def rows(specs: Sequence[Spec]) -> st.SearchStrategy[list[tuple[Spec, Any]]]:
        row = st.sampled_from(list(specs)).flatmap(
            lambda spec: spec.values.map(lambda value: (spec, value))
        )
        return mix(
            (3, st.lists(row, min_size=1, max_size=1)), (1, st.lists(row, min_size=2, max_size=4))
        )

    return st.sampled_from(tables).flatmap(rows)


def filter_operand(spec: Spec, expected: Any, value: Any) -> Any:
    """The row's own value to filter by: what was written, but an e-mail address as stored."""
    return expected if spec is E_MAIL else value


def check_values(store: Store, rows: list[tuple[Spec, Any]]) -> None:
    """The rule of ask 1 for one write of ``rows`` (``create``, or ``create_many`` of a batch),
    then, for kept values, ``get``, ``==`` and ``in_`` on their own value, ``delete``."""
    keys = [value for spec, value in rows if spec.is_key]
    assume(len(keys) == len(set(keys)))  # a duplicate key is a conflict, not a hostile value
    model = rows[0][0].model
    path = store.path
    repo = store.repo(model)
    verdicts = [spec.expect(value) for spec, value in rows]
    refusals = [verdict for verdict in verdicts if isinstance(verdict, Refused)]
    TALLY[path, "examples"] += 1
    hypothesis.event("outcome", "refused" if refusals else "kept")
    hypothesis.event("batch", "one row" if len(rows) == 1 else "batch")
    described = ", ".join(f"{spec.name}={shown(value)}" for spec, value in rows)

    instances = [spec.build(value) for spec, value in rows]
    try:
        created = [repo.create(instances[0])] if len(rows) == 1 else repo.create_many(instances)
    except ValidationError as exc:
        if not refusals:
            TALLY[path, WRONGLY_REFUSED] += len(rows)
            raise Verdict(f"{path}: {described}: refused ({exc}), but the rule keeps it") from exc
        written = repo.count()
        if written:
            TALLY[path, PARTLY_WRITTEN] += len(rows)
            raise Verdict(f"{path}: {described}: refused, yet {written} row(s) written") from exc
        for verdict in verdicts:
            TALLY[path, REFUSED if isinstance(verdict, Refused) else REFUSED_WITH_BATCH] += 1
        store.left_empty(model)
        return

    if refusals:
        returned = [
            getattr(made, spec.field) for made, (spec, _) in zip(created, rows, strict=True)
        ]
        changed = any(
            not same(value, back) for (_, value), back in zip(rows, returned, strict=True)
        )
        TALLY[path, CHANGED if changed else WRONGLY_KEPT] += len(rows)
        how = f"changed to {shown(returned)}" if changed else "as given"
        reasons = "; ".join(refusal.reason for refusal in refusals)
        raise Verdict(f"{path}: {described}: stored ({how}), but the rule refuses it: {reasons}")

    assert len(created) == len(rows)
    for made, (spec, value), verdict in zip(created, rows, verdicts, strict=True):
        assert isinstance(verdict, Kept)
        for source, instance in (("create", made), ("get", repo.get(key_of(made)))):
            back = None if instance is None else getattr(instance, spec.field)
            if instance is None or not same(verdict.value, back):
                TALLY[path, CHANGED] += 1
                raise Verdict(
                    f"{path}: {spec.name}={shown(value)}: {source} returned {shown(back)} "
                    f"({type(back).__name__}), not {shown(verdict.value)} "
                    f"({type(verdict.value).__name__})"
                )
            others = {
                name: getattr(instance, name)
                for name in type(instance).model_fields
                if name not in (spec.field, "id")
            }
            if any(other is not None for other in others.values()):
                TALLY[path, CHANGED] += 1
                raise Verdict(f"{path}: {spec.name}={shown(value)}: {source} filled in {others}")
            if type(key_of(instance)) is not type(key_of(made)) or (
                model is ValueMoment and type(key_of(instance)) is not uuid.UUID
            ):
                TALLY[path, CHANGED] += 1
                raise Verdict(f"{path}: {source} returned a key of type {type(key_of(instance))}")

    for (spec, value), verdict in zip(rows, verdicts, strict=True):
        assert isinstance(verdict, Kept)
        if spec.filterable:
            operand = filter_operand(spec, verdict.value, value)
            wanted = sorted(
                str(key_of(other))
                for other, (other_spec, _), other_verdict in zip(
                    created, rows, verdicts, strict=True
                )
                if other_spec is spec
                and isinstance(other_verdict, Kept)
                and comparable(other_verdict.value) == comparable(operand)
            )
            for clause in (spec.column() == operand, spec.column().in_([operand])):
                found = sorted(str(key_of(row)) for row in repo.list(clause))
                TALLY[path, FILTERS] += 1
                if found != wanted:
                    TALLY[path, MISSED] += 1
                    raise Verdict(
                        f"{path}: {spec.name}={shown(value)}: filter {clause} found {found}, "
                        f"not {wanted}"
                    )
    for made, (spec, value) in zip(created, rows, strict=True):  # once every filter ran
        row_id = key_of(made)
        if not repo.delete(row_id) or repo.get(row_id) is not None:
            TALLY[path, MISSED] += 1
            raise Verdict(f"{path}: {spec.name}={shown(value)}: delete left the row")
        TALLY[path, KEPT] += 1
    left = repo.count()
    if left:
        TALLY[path, MISSED] += 1
        raise Verdict(f"{path}: {described}: {left} row(s) left after deleting every row")
    store.left_empty(model)


# --- the properties of ask 1 and 2, one per kind of value ----------------------------------------


TEXTS = [TEXT, SHORT, E_MAIL]
INTEGERS_AND_FLOATS = [SMALL, REGULAR, BIG, FLAG, REAL, REAL]
DECIMALS = [AMOUNT, PRICE_SPEC]
MOMENTS = [AT, AT, AT, DAY_SPEC, TOKEN, MOMENT_KEY, MOOD, LEVEL]
DOCUMENTS = [DATA, ANYTHING]


@properties
@slow
@given(rows=rows_of(TEXTS, [KEY]))
@hypothesis.example(rows=[(TEXT, "a\x00b")])
@hypothesis.example(rows=[(TEXT, "x" * 100_000), (E_MAIL, "A_b%c@EXAMPLE.com")])
@hypothesis.example(rows=[(KEY, "")])
@hypothesis.example(rows=[(TEXT, ""), (TEXT, "é" * 32_768)])  # "" and 65,536 bytes of UTF-8
def test_text_and_text_keys_are_kept_exactly_or_refused(
    store: Store, rows: list[tuple[Spec, Any]]
) -> None:
    """Plain, constrained and e-mail text, and text keys: NUL and surrogates refused, the rest
    kept, ``""`` and 100,000 characters included."""
    check_values(store, rows)


@properties
@slow
@given(rows=rows_of(INTEGERS_AND_FLOATS, DECIMALS))
@hypothesis.example(rows=[(SMALL, 2**15 - 1), (REGULAR, -(2**31)), (BIG, 2**63 - 1)])
@hypothesis.example(rows=[(REGULAR, 2**31)])
@hypothesis.example(rows=[(REAL, 5e-324), (REAL, -math.inf)])
@hypothesis.example(rows=[(AMOUNT, Decimal("-1E-307")), (AMOUNT, Decimal("999999999999999E+293"))])
# Found by the long run: SQLite kept the double of 1.15292150461E+18 as the INTEGER it equals.
@hypothesis.example(rows=[(AMOUNT, Decimal("1.15292150461E+18")), (AMOUNT, Decimal("-9E+18"))])
def test_numbers_are_kept_exactly_within_their_columns_range_or_refused(
    store: Store, rows: list[tuple[Spec, Any]]
) -> None:
    """Integers within their column's width (16, 32, 64 bits), booleans; floats but NaN and
    -0.0, infinities included; Decimals of 15 significant digits within 1E-307..1E+307."""
    check_values(store, rows)


@properties
@slow
@given(rows=rows_of(MOMENTS))
@hypothesis.example(rows=[(LEVEL, ValueLevel.BEYOND_64_BITS)])
@hypothesis.example(rows=[(AT, datetime(1, 1, 1, tzinfo=timezone(timedelta(microseconds=1))))])
@hypothesis.example(rows=[(AT, datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-2))))])
def test_datetimes_dates_uuids_and_enum_members_are_kept_exactly_or_refused(
    store: Store, rows: list[tuple[Spec, Any]]
) -> None:
    """Aware datetimes within years 1-9999 once in UTC, as the same instant in UTC; naive
    ones refused; every date, UUID (key too, as `uuid.UUID` itself) and enum member kept."""
    check_values(store, rows)


@properties
@slow
@given(rows=rows_of(DOCUMENTS))
@hypothesis.example(rows=[(ANYTHING, [2**63, 2**100, True, -0.0, 1.0, "\x00"])])
@hypothesis.example(rows=[(ANYTHING, 2**63)])
@hypothesis.example(rows=[(DATA, {"a": (1,)})])
@hypothesis.example(rows=[(DATA, {"d": nested(99, 1, as_dicts=False)})])
def test_json_is_kept_exactly_or_refused(store: Store, rows: list[tuple[Spec, Any]]) -> None:
    """Bools stay bools, big integers stay exact, -0.0 keeps its sign; NaN, infinities, sets,
    tuples, non-text keys, other objects, surrogates and nesting beyond 100 are refused."""
    check_values(store, rows)


# --- the property of ask 3: filters by values no row can hold ------------------------------------

OPERATIONS = ["==", "!=", "<", "<=", ">", ">=", "in_", "not_in", "startswith"]
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@dataclass(frozen=True)
class Query:
    operation: str
    operand: Any  # a value, or a list of them for in_ and not_in

    def clause(self, spec: Spec) -> Any:
        column = spec.column()
        if self.operation == "in_":
            return column.in_(self.operand)
        if self.operation == "not_in":
            return column.not_in(self.operand)
        if self.operation == "startswith":
            return column.startswith(self.operand)
        return COMPARE[self.operation](column, self.operand)

    def matches(self, stored: Any) -> bool:
        """Python's answer, which is the exact one (SQL's: NULL matches nothing)."""
        if stored is None:
            return False
        if self.operation == "startswith":
            return bool(stored.startswith(self.operand))
        if self.operation == "in_":
            return any(comparable(stored) == comparable(item) for item in self.operand)
        if self.operation == "not_in":
            return all(comparable(stored) != comparable(item) for item in self.operand)
        return COMPARE[self.operation](comparable(stored), comparable(self.operand))


def queries(spec: Spec) -> st.SearchStrategy[Query]:
    values = spec.filter_values
    assert values is not None
    operations = OPERATIONS if spec.textual else OPERATIONS[:-1]

    def query(operation: str) -> st.SearchStrategy[Query]:
        many = operation in ("in_", "not_in")
        operands = st.lists(values, min_size=1, max_size=3) if many else values
        return st.builds(Query, st.just(operation), operands)

    return st.sampled_from(operations).flatmap(query)


@st.composite
def filter_cases(draw: st.DrawFn) -> tuple[Spec, list[Any], list[Query]]:
    spec = draw(st.sampled_from(FILTERED))
    kept = spec.values.filter(lambda value: isinstance(spec.expect(value), Kept))
    if spec.is_key:
        stored = draw(st.lists(kept, max_size=6, unique=True))
    else:
        stored = draw(st.lists(st.none() | kept, max_size=6))
    return spec, stored, draw(st.lists(queries(spec), min_size=1, max_size=4))


@properties
@slow
@given(case=filter_cases())
def test_filters_give_the_exact_answer_also_for_values_no_row_can_hold(
    store: Store, case: tuple[Spec, list[Any], list[Query]]
) -> None:
    """Rows of kept values (and NULLs); filters by values of the column's type, holdable or
    not (beyond the width, NUL or surrogates, NaN, 16 digits, outside years 1-9999 in UTC):
    each finds exactly the rows Python's own comparison picks."""
    spec, values, asked = case
    repo = store.repo(spec.model)
    path = store.path
    TALLY[path, "examples"] += 1
    try:
        created = repo.create_many([spec.build(value) for value in values])
    except ValidationError as exc:
        TALLY[path, WRONGLY_REFUSED] += len(values)
        raise Verdict(f"{path}: {spec.name}: kept values {shown(values)} refused: {exc}") from exc
    rows = []
    for made, value in zip(created, values, strict=True):
        verdict = spec.expect(value) if value is not None else Kept(None)
        assert isinstance(verdict, Kept)
        rows.append((str(key_of(made)), verdict.value))
    for query in asked:
        clause = query.clause(spec)
        wanted = sorted(row_id for row_id, stored in rows if query.matches(stored))
        picked = [stored for row_id, stored in rows if row_id in wanted]
        try:
            found = sorted(str(key_of(row)) for row in repo.list(clause))
            counted = repo.count(clause)
        except ValidationError as exc:
            TALLY[path, MISSED] += 1
            raise Verdict(
                f"{path}: {spec.name} {query.operation} {shown(query.operand)}: ValidationError "
                f"({exc}) for a value of the column's type"
            ) from exc
        TALLY[path, FILTERS] += 1
        hypothesis.event(
            "matching", "none" if not wanted else "all" if len(wanted) == len(rows) else "some"
        )
        if found != wanted or counted != len(wanted):
            TALLY[path, MISSED] += 1
            raise Verdict(
                f"{path}: {spec.name} {query.operation} {shown(query.operand)} over "
                f"{shown([stored for _, stored in rows])}: found {len(found)} row(s) "
                f"{shown([stored for row_id, stored in rows if row_id in found])}, counted "
                f"{counted}, wanted {shown(picked)}"
            )


# --- the hostile values of issue 9's table, one by one on every path -----------------------------


LONG_KEY = "".join(random.Random(9).choices(BIG_ALPHABET, k=3_000))  # 4,092 bytes of UTF-8


@dataclass(frozen=True)
class Hostile:
    """A value of the issue's table, its field, and what the rule makes of it."""

    model: type[SQLModel]
    field: str
    make: Callable[[], Any]  # made afresh: some are 3,000 containers deep
    keeps: bool


HOSTILE_VALUES = {
    "float NaN": Hostile(ValueNumber, "real", lambda: math.nan, keeps=False),
    "float -0.0": Hostile(ValueNumber, "real", lambda: -0.0, keeps=False),
    "float inf": Hostile(ValueNumber, "real", lambda: math.inf, keeps=True),
    "float -inf": Hostile(ValueNumber, "real", lambda: -math.inf, keeps=True),
    "Decimal 1E-30": Hostile(ValueDecimal, "amount", lambda: Decimal("1E-30"), keeps=True),
    "Decimal 1E+30": Hostile(ValueDecimal, "amount", lambda: Decimal("1E+30"), keeps=True),
    # Not in the issue's table: a zero of any exponent is zero, and held.
    "Decimal 0E-400": Hostile(ValueDecimal, "amount", lambda: Decimal("0E-400"), keeps=True),
    "int 2**70+1": Hostile(ValueNumber, "regular", lambda: 2**70 + 1, keeps=False),
    "int 2**70+1 in a BigInteger": Hostile(ValueNumber, "big", lambda: 2**70 + 1, keeps=False),
    "lone surrogate in an optional str": Hostile(
        ValueText, "text", lambda: "a\ud800b", keeps=False
    ),
    "lone surrogate in a str key": Hostile(ValueKeyed, "id", lambda: "\udfff", keeps=False),
    # Not in the issue's table: a key longer than a PostgreSQL btree entry (2,704 bytes), and
    # one of 100,000 characters.
    "str key of 3,000 random characters": Hostile(ValueKeyed, "id", lambda: LONG_KEY, keeps=False),
    "str key of 100,000 characters": Hostile(
        ValueKeyed, "id", lambda: ("k%:" * 33_334)[:100_000], keeps=False
    ),
    "surrogate pair as two code points": Hostile(
        ValueText, "text", lambda: "\ud83d\ude00", keeps=False
    ),
    "JSON NaN": Hostile(ValueDocument, "data", lambda: {"x": math.nan}, keeps=False),
    "JSON inf": Hostile(ValueDocument, "data", lambda: {"x": [math.inf]}, keeps=False),
    "JSON set": Hostile(ValueDocument, "data", lambda: {"x": {1, 2}}, keeps=False),
    "JSON nested 3,000 deep": Hostile(
        ValueDocument, "data", lambda: {"d": nested(2_999, 1, as_dicts=False)}, keeps=False
    ),
    "JSON nested 3,000 deep, Any": Hostile(
        ValueDocument, "anything", lambda: nested(3_000, None, as_dicts=True), keeps=False
    ),
}


@pytest.mark.parametrize("name", list(HOSTILE_VALUES))
def test_a_hostile_value_of_the_issue_is_kept_exactly_or_refused_before_any_write(
    store: Store, name: str
) -> None:
    hostile = HOSTILE_VALUES[name]
    field = hostile.field
    repo = store.repo(hostile.model)
    value = hostile.make()
    instance = hostile.model(**{field: value})
    if not hostile.keeps:
        batch = [hostile.model(), hostile.model(**{field: hostile.make()})]
        writes: list[Callable[[], list[SQLModel]]] = [
            lambda: [repo.create(instance)],
            lambda: repo.create_many(batch),
        ]
        for write in writes:
            try:
                written = write()
            except ValidationError:
                assert repo.count() == 0, f"{store.path}: {name}: refused, yet written"
            else:
                back = repo.get(key_of(written[-1]))
                stored = None if back is None else getattr(back, field)
                pytest.fail(f"{store.path}: {name}: stored (as {shown(stored)}), not refused")
        return
    try:
        made = repo.create(instance)
    except ValidationError as exc:
        pytest.fail(f"{store.path}: {name}: refused ({exc}), but the rule keeps it")
    back = repo.get(key_of(made))
    assert back is not None
    for source, stored in (("create", getattr(made, field)), ("get", getattr(back, field))):
        assert same(value, stored), f"{store.path}: {name}: {source} returned {shown(stored)}"
    assert [key_of(row) for row in repo.list(col(getattr(hostile.model, field)) == value)] == [
        key_of(made)
    ]


def test_get_by_a_key_beyond_64_bits_is_a_validation_error(store: Store) -> None:
    repo = store.repo(ValueNumber)
    with pytest.raises(ValidationError):
        repo.get(2**70)


def test_a_limit_beyond_64_bits_is_a_validation_error(store: Store) -> None:
    repo = store.repo(ValueNumber)
    repo.create(ValueNumber(regular=1))
    with pytest.raises(ValidationError):
        repo.list(limit=2**63)


# --- filters (ask 3), example by example -----------------------------------------------------


def test_startswith_on_email_and_constrained_text_is_literal_and_case_sensitive(
    store: Store,
) -> None:
    repo = store.repo(ValueText)
    addresses = [
        "a_b@example.com",
        "a%b@example.com",
        "ab@example.com",
        "axb@example.com",
        "aXb@example.com",
        "A_B@example.com",
    ]
    repo.create_many([ValueText(email=address, short=address) for address in addresses])

    for column in (col(ValueText.email), col(ValueText.short)):
        for prefix, wanted in [
            ("a_", ["a_b@example.com"]),
            ("a%", ["a%b@example.com"]),
            ("A", ["A_B@example.com"]),
            ("ax", ["axb@example.com"]),
            ("a\x00", []),
            ("a\ud800", []),
            ("", sorted(addresses)),
        ]:
            found = sorted(row.email or "" for row in repo.list(column.startswith(prefix)))
            assert found == wanted, (column, prefix)


def test_a_mistyped_email_address_looked_up_finds_nothing(store: Store) -> None:
    accounts = store.repo(UserAccount)
    ada = accounts.create(UserAccount(email="ada@example.com", display_name="Ada", age=36))

    assert accounts.first(col(UserAccount.email) == "not-an-email") is None
    assert accounts.count(col(UserAccount.email).in_(["not-an-email", "ada@example.com"])) == 1
    assert accounts.first(col(UserAccount.email) == "ada@example.com") == ada


def test_values_no_row_can_hold_match_nothing_with_equality_and_all_with_inequality(
    store: Store,
) -> None:
    numbers = store.repo(ValueNumber)
    numbers.create_many(
        [ValueNumber(regular=value, real=float(value)) for value in (-(2**31), -1, 0, 2**31 - 1)]
        + [ValueNumber()]
    )
    regular, real = col(ValueNumber.regular), col(ValueNumber.real)
    assert numbers.count(regular < 2**40) == 4
    assert numbers.count(regular > -(2**40)) == 4
    assert numbers.count(regular >= 2**40) == 0
    assert numbers.count(regular == 2**40) == 0
    assert numbers.count(regular.in_([2**40, 2**70])) == 0
    assert numbers.count(regular != 2**40) == 4
    assert numbers.count(regular.not_in([2**40, 0])) == 3
    for clause in (real == math.nan, real < math.nan, real >= math.nan, real.in_([math.nan])):
        assert numbers.count(clause) == 0, clause
    assert numbers.count(real != math.nan) == 4
    assert numbers.count(real.not_in([math.nan])) == 4
    assert numbers.count(real == -0.0) == 1  # equal to 0.0, which a row holds

    texts = store.repo(ValueText)
    texts.create_many([ValueText(text=text) for text in ["", "a", "a\x01", "ab", "b"]])
    text = col(ValueText.text)
    assert sorted(row.text or "" for row in texts.list(text < "a\x00")) == ["", "a"]
    assert sorted(row.text or "" for row in texts.list(text > "a\x00")) == ["a\x01", "ab", "b"]
    assert texts.count(text == "a\x00") == 0
    assert texts.count(text.in_(["a\x00", "\ud800"])) == 0
    assert texts.count(text != "a\ud800") == 5
    assert texts.count(text.not_in(["a\x00", "b"])) == 4
    assert texts.count(text < "\ud800") == 5  # every row's text comes before U+D800
    assert texts.count(text.startswith("a\x00")) == 0

    amounts = store.repo(ValueDecimal)
    amounts.create_many([ValueDecimal(amount=Decimal("0.1")), ValueDecimal(amount=Decimal(1))])
    sixteen_digits = Decimal("0.1000000000000001")
    amount = col(ValueDecimal.amount)
    assert amounts.count(amount == sixteen_digits) == 0
    assert amounts.count(amount != sixteen_digits) == 2
    assert [row.amount for row in amounts.list(amount > sixteen_digits)] == [Decimal(1)]
    assert [row.amount for row in amounts.list(amount < sixteen_digits)] == [Decimal("0.1")]


WRONG_TYPES = [
    (ValueNumber, "regular", "abc"),
    (ValueNumber, "big", [1]),
    (ValueNumber, "real", "abc"),
    (ValueDecimal, "amount", "abc"),
    (ValueMoment, "at", "abc"),
    (ValueMoment, "day", "abc"),
    (ValueMoment, "token", "abc"),
    (ValueText, "text", 12.5),
    (ValueText, "email", 12.5),
    (ValueKeyed, "id", 12.5),
]


@pytest.mark.parametrize(
    ("model", "field", "value"), WRONG_TYPES, ids=[f"{m.__name__}.{f}" for m, f, _ in WRONG_TYPES]
)
def test_a_filter_value_of_the_wrong_type_is_a_validation_error(
    store: Store, model: type[SQLModel], field: str, value: Any
) -> None:
    repo = store.repo(model)
    column = col(getattr(model, field))
    with pytest.raises(ValidationError):
        repo.list(column == value)
    with pytest.raises(ValidationError):
        repo.count(column.in_([value]))


def test_in_with_100000_values_finds_the_rows(store: Store) -> None:
    numbers = store.repo(ValueNumber)
    numbers.create_many([ValueNumber(big=7 * n) for n in range(5)])
    values = list(range(-50_000, 50_000))
    found = numbers.list(col(ValueNumber.big).in_(values))
    assert sorted(row.big or 0 for row in found) == [0, 7, 14, 21, 28]

    keyed = store.repo(ValueKeyed)  # by key: Redis reads documents by key
    keyed.create_many([ValueKeyed(id=f"k{n}") for n in (0, 99_999, 100_000)])
    names = [f"k{n}" for n in range(100_000)]
    assert sorted(row.id for row in keyed.list(col(ValueKeyed.id).in_(names))) == ["k0", "k99999"]


def test_delete_many_of_100000_ids_deletes_those_there(store: Store) -> None:
    keyed = store.repo(ValueKeyed)
    keyed.create_many([ValueKeyed(id=f"k{n}") for n in range(0, 100_000, 50)])

    assert keyed.delete_many([f"k{n}" for n in range(100_000)]) == 2_000
    assert keyed.count() == 0
