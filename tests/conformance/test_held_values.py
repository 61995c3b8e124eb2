"""Filters by values no row can hold, on every backend: they mean what they say, and never fail.

A filter value of the column's type that no stored row could have (an integer beyond the
column's width, text holding NUL or a surrogate, NaN, a Decimal of 16 digits, a datetime past
year 9999 in UTC) matches nothing with ``==`` and ``in_``, every row with a value with ``!=``
and ``not_in``, and what the order says with ranges; NULLs match neither way, as in SQL.

``test_held_values.py`` is the async source and ``test_sync_held_values.py`` is generated from
it. Each test runs once per backend (the ``backend`` fixture).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import not_, or_
from sqlmodel import col

from models import Gadget, UserAccount
from tests.hostile_models import Constrained
from toolkit.config import Settings
from toolkit.errors import ValidationError
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.providers import RepositoryProvider
from toolkit.storage_dependencies import get_provider


@pytest.fixture
async def provider(settings: Settings) -> AsyncIterator[RepositoryProvider]:
    async with get_provider(settings=settings) as opened:
        yield opened


@pytest.fixture
async def gadgets(provider: RepositoryProvider) -> list[Gadget]:
    """Three gadgets with values and one with NULLs: ids in creation order."""
    repository = provider.get_repository(Gadget)
    return await repository.create_many(
        [
            Gadget(label="a", note="a", quantity=-(2**31), ratio=-1.5, price=Decimal("-1.25")),
            Gadget(label="ab", note="ab", quantity=0, ratio=0.0, price=Decimal("0")),
            Gadget(label="b", note="b", quantity=2**31 - 1, ratio=2.5, price=Decimal("3.50")),
            Gadget(label="z"),
        ]
    )


@pytest.fixture
def repository(provider: RepositoryProvider) -> BaseRepository[Gadget]:
    return provider.get_repository(Gadget)


def ids(rows: Sequence[Gadget]) -> list[int | None]:
    return [row.id for row in rows]


async def test_integers_beyond_the_columns_width_match_what_the_order_says(
    repository: BaseRepository[Gadget], gadgets: list[Gadget]
) -> None:
    """``quantity`` is an INTEGER column: 32 bits on every backend."""
    low, zero, high, empty = ids(gadgets)
    quantity = col(Gadget.quantity)
    for beyond in (2**31, 2**40, 2**70):
        assert await repository.list(quantity == beyond) == []
        assert ids(await repository.list(quantity != beyond)) == [low, zero, high]
        assert ids(await repository.list(quantity < beyond)) == [low, zero, high]
        assert ids(await repository.list(quantity <= beyond)) == [low, zero, high]
        assert await repository.list(quantity > beyond) == []
        assert await repository.list(quantity >= -beyond - 1) != []
        assert await repository.list(quantity < -beyond - 1) == []
        assert ids(await repository.list(quantity.in_([beyond, 0]))) == [zero]
        assert await repository.list(quantity.in_([beyond])) == []
        assert ids(await repository.list(quantity.not_in([beyond]))) == [low, zero, high]
        # Under NOT, a NULL stays unknown: the row with no quantity is in neither answer.
        assert ids(await repository.list(not_(quantity == beyond))) == [low, zero, high]
        assert await repository.list(not_(quantity != beyond)) == []
    assert empty is not None


async def test_text_holding_nul_or_a_surrogate_matches_nothing_and_orders_by_code_point(
    repository: BaseRepository[Gadget], gadgets: list[Gadget]
) -> None:
    a, ab, b, _ = ids(gadgets)
    note = col(Gadget.note)
    for unheld in ("a\x00", "a\ud800", "a\ud83d\ude00"):
        assert await repository.list(note == unheld) == []
        assert ids(await repository.list(note != unheld)) == [a, ab, b]
        assert await repository.first(col(Gadget.label) == unheld) is None
        assert await repository.count(note.in_([unheld])) == 0
        assert await repository.list(note.startswith(unheld)) == []
        assert ids(await repository.list(not_(note.startswith(unheld)))) == [a, ab, b]
    # "a" < "a\x00" < "ab": held text is below it exactly when it is "a" or below.
    assert ids(await repository.list(note < "a\x00")) == [a]
    assert ids(await repository.list(note <= "a\x00")) == [a]
    assert ids(await repository.list(note > "a\x00")) == [ab, b]
    assert ids(await repository.list(note >= "a\x00")) == [ab, b]
    # A surrogate sorts below U+E000 and above every character before U+D800.
    assert ids(await repository.list(note < "a\ud800")) == [a, ab]
    assert ids(await repository.list(note > "a\ud800")) == [b]


async def test_nan_matches_nothing_but_not_equal(
    repository: BaseRepository[Gadget], gadgets: list[Gadget]
) -> None:
    low, zero, high, _ = ids(gadgets)
    ratio = col(Gadget.ratio)
    nan = float("nan")
    for condition in (ratio == nan, ratio < nan, ratio <= nan, ratio > nan, ratio >= nan):
        assert await repository.list(condition) == []
    assert ids(await repository.list(ratio != nan)) == [low, zero, high]
    assert ids(await repository.list(ratio.in_([nan, 2.5]))) == [high]
    # -0.0 is a filter value like 0.0: it equals it.
    assert ids(await repository.list(ratio == -0.0)) == [zero]


async def test_decimals_beyond_what_is_held_compare_exactly(
    repository: BaseRepository[Gadget], gadgets: list[Gadget]
) -> None:
    low, zero, high, _ = ids(gadgets)
    price = col(Gadget.price)
    sixteen = Decimal("3.500000000000001")  # 16 significant digits: no row holds it
    assert await repository.list(price == sixteen) == []
    assert ids(await repository.list(price != sixteen)) == [low, zero, high]
    assert ids(await repository.list(price < sixteen)) == [low, zero, high]
    assert await repository.list(price > sixteen) == []
    just_below = Decimal("3.499999999999999999")
    assert ids(await repository.list(price < just_below)) == [low, zero]
    assert ids(await repository.list(price >= just_below)) == [high]
    assert ids(await repository.list(price > Decimal("1E-400"))) == [high]
    assert ids(await repository.list(price <= Decimal("-1E-400"))) == [low]
    assert ids(await repository.list(price < Decimal("1E+400"))) == [low, zero, high]
    assert await repository.list(price > Decimal("1E+400")) == []


async def test_datetimes_beyond_year_9999_in_utc_compare_as_beyond_every_row(
    repository: BaseRepository[Gadget],
) -> None:
    seen = await repository.create(Gadget(label="x", seen_at=datetime(2026, 1, 1, tzinfo=UTC)))
    late = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(-timedelta(hours=5)))
    early = datetime(1, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=5)))
    seen_at = col(Gadget.seen_at)
    assert await repository.list(seen_at == late) == []
    assert ids(await repository.list(seen_at < late)) == [seen.id]
    assert await repository.list(seen_at > late) == []
    assert ids(await repository.list(seen_at > early)) == [seen.id]
    assert ids(await repository.list(seen_at != early)) == [seen.id]
    with pytest.raises(ValidationError):  # a naive datetime is of no instant: the wrong type
        await repository.list(seen_at == datetime(2026, 1, 1))


async def test_startswith_is_literal_and_case_sensitive_on_an_email_column(
    provider: RepositoryProvider,
) -> None:
    accounts = provider.get_repository(UserAccount)
    plain, underscore, percent, upper = await accounts.create_many(
        UserAccount(email=email, display_name="x", age=30)
        for email in ("ab@x.org", "a_b@x.org", "a%b@x.org", "A_b@x.org")
    )
    email = col(UserAccount.email)
    assert ids_of(await accounts.list(email.startswith("a_"))) == [underscore.id]
    assert ids_of(await accounts.list(email.startswith("a%"))) == [percent.id]
    assert ids_of(await accounts.list(email.startswith("A"))) == [upper.id]
    assert ids_of(await accounts.list(not_(email.startswith("a")))) == [upper.id]
    # A mistyped address is looked up, not validated: it matches nothing.
    assert await accounts.first(email == "not-an-email") is None
    assert plain.id is not None


def ids_of(rows: Sequence[UserAccount]) -> list[int | None]:
    return [row.id for row in rows]


async def test_optional_fields_of_constrained_types_follow_the_rule_too(
    provider: RepositoryProvider,
) -> None:
    """Found: ``NonNegativeInt | None`` and the like (``Annotated`` inside an optional) escaped
    the rule: 2**40 stored on SQLite and Redis, NaN kept on PostgreSQL, a 20-place Decimal read
    as ``0E-10`` on SQLite, and filters held to the type's constraints."""
    repository = provider.get_repository(Constrained)
    for bad in (
        Constrained(count=2**40),
        Constrained(ratio=float("nan")),
        Constrained(ratio=-0.0),
        Constrained(amount=Decimal("1.0000000000000001")),
    ):
        with pytest.raises(ValidationError):
            await repository.create(bad)
    row = await repository.create(Constrained(count=7, ratio=0.5, amount=Decimal("1E-15")))
    assert (await repository.get_one(row.id or 0)).amount == Decimal("1E-15")
    assert await repository.count() == 1
    count = col(Constrained.count)
    assert await repository.count(count > -5) == 1  # typed, not held to the constraint
    assert await repository.count(count == 2**40) == 0
    assert await repository.count(count < 2**40) == 1


async def test_many_in_lists_in_one_condition_take_no_parameter_each(
    repository: BaseRepository[Gadget], gadgets: list[Gadget]
) -> None:
    """Found: 70 lists of 500 values (35,000 in all) broke asyncpg's 32,767 parameters."""
    quantity = col(Gadget.quantity)
    lists = [quantity.in_(range(start, start + 500)) for start in range(-1_000, 34_000, 500)]
    assert ids(await repository.list(or_(*lists))) == [ids(gadgets)[1]]  # quantity 0
