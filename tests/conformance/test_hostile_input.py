"""Keys and values no input can break, proven on every backend.

Each row's key stays its own whatever characters table names, keys and values hold; an explicit
key never breaks generated ones; a value a backend cannot keep exactly is a `ValidationError`
raised before anything is written, also from the middle of a batch.

``test_hostile_input.py`` is the async source and ``test_sync_hostile_input.py`` is generated
from it. Each test runs once per backend (the ``backend`` fixture).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlmodel import col

from models import UserAccount
from tests.hostile_models import Counted, Pair, Prefixed, PrefixedLonger
from toolkit.config import Settings
from toolkit.errors import ConflictError, ValidationError
from toolkit.repositories.base import BaseRepository
from toolkit.repositories.providers import RepositoryProvider
from toolkit.storage_dependencies import get_provider


@pytest.fixture
async def provider(settings: Settings) -> AsyncIterator[RepositoryProvider]:
    async with get_provider(settings=settings) as opened:
        yield opened


@pytest.fixture
def prefixed(provider: RepositoryProvider) -> BaseRepository[Prefixed]:
    return provider.get_repository(Prefixed)


@pytest.fixture
def prefixed_longer(provider: RepositoryProvider) -> BaseRepository[PrefixedLonger]:
    return provider.get_repository(PrefixedLonger)


@pytest.fixture
def pairs(provider: RepositoryProvider) -> BaseRepository[Pair]:
    return provider.get_repository(Pair)


@pytest.fixture
def counted(provider: RepositoryProvider) -> BaseRepository[Counted]:
    return provider.get_repository(Counted)


# --- keys ------------------------------------------------------------------------------------


async def test_tables_whose_names_run_into_each_others_keys_keep_their_rows_apart(
    prefixed: BaseRepository[Prefixed], prefixed_longer: BaseRepository[PrefixedLonger]
) -> None:
    """Table ``hostile_a`` with key ``b:x`` and table ``hostile_a:b`` with key ``x``."""
    short = await prefixed.create(Prefixed(id="b:x", label="short"))
    longer = await prefixed_longer.create(PrefixedLonger(id="x", label="longer"))

    assert await prefixed.get("b:x") == short
    assert await prefixed_longer.get("x") == longer
    assert await prefixed.get("x") is None
    assert await prefixed.delete("b:x")
    assert await prefixed_longer.list() == [longer]
    assert await prefixed.list() == []


async def test_keys_holding_separators_escapes_and_braces_are_keys_like_any_other(
    prefixed: BaseRepository[Prefixed],
) -> None:
    ids = ["a:b", "a%3Ab", "a%b", "{a}", "a:", ":a", "%", "*", "a b", "\x1f"]
    created = await prefixed.create_many(Prefixed(id=key, label=key, code=f"c{key}") for key in ids)

    for row in created:
        assert (await prefixed.get_one(row.id)).label == row.id
        found = await prefixed.first(col(Prefixed.code) == f"c{row.id}")  # by a unique value
        assert found is not None
        assert found.id == row.id
        assert await prefixed.count(col(Prefixed.code) == f"c{row.id}") == 1
    assert sorted(row.id for row in await prefixed.list()) == sorted(ids)
    assert await prefixed.delete_many(["a:b", "{a}"]) == 2
    assert sorted(row.id for row in await prefixed.list()) == sorted(set(ids) - {"a:b", "{a}"})


async def test_an_empty_string_is_a_primary_key_like_any_other(
    prefixed: BaseRepository[Prefixed],
) -> None:
    created = await prefixed.create(Prefixed(id="", label="empty"))

    assert created.id == ""
    assert await prefixed.get("") == created
    with pytest.raises(ConflictError):
        await prefixed.create(Prefixed(id="", label="again"))
    assert [row.id for row in await prefixed.list()] == [""]
    assert (await prefixed.upsert(Prefixed(id="", label="changed"))).label == "changed"
    assert await prefixed.count() == 1
    assert await prefixed.delete_where() == 1
    assert await prefixed.get("") is None


async def test_unique_tuples_whose_values_hold_separators_do_not_run_together(
    pairs: BaseRepository[Pair],
) -> None:
    await pairs.create(Pair(first="x\x1fy", second="z"))
    await pairs.create(Pair(first="x", second="y\x1fz"))
    await pairs.create(Pair(first='["x"', second='"y"]'))
    await pairs.create(Pair(first="x,y", second="z"))

    with pytest.raises(ConflictError):
        await pairs.create(Pair(first="x", second="y\x1fz"))
    assert await pairs.count() == 4


async def test_an_explicit_key_at_the_top_of_the_range_leaves_generated_keys_working(
    counted: BaseRepository[Counted],
) -> None:
    top = await counted.create(Counted(id=2**63 - 1))

    first = await counted.create(Counted())
    assert first.id is not None
    assert first.id != top.id
    await counted.delete_where()
    second = await counted.create(Counted())
    assert second.id is not None
    assert second.id != top.id
    assert [row.id for row in await counted.list()] == [second.id]


@pytest.mark.parametrize("key", [2**63, 2**64, -(2**63) - 1])
async def test_an_integer_key_beyond_64_bits_is_a_validation_error_and_writes_nothing(
    counted: BaseRepository[Counted], key: int
) -> None:
    with pytest.raises(ValidationError):
        await counted.create(Counted(id=key))
    with pytest.raises(ValidationError):
        await counted.get(key)

    assert await counted.count() == 0
    assert (await counted.create(Counted())).id is not None


# --- values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        Counted(note="lone \ud800 surrogate"),
        Counted(note="\udfff"),
        Counted(note="a pair as two code points: \ud83d\ude00"),
        Counted(amount=2**70 + 1),
        Counted(amount=-(2**63) - 1),
    ],
    ids=["lone-high-surrogate", "lone-low-surrogate", "surrogate-pair", "int-2**70", "int-min-1"],
)
async def test_a_bad_value_in_the_middle_of_a_batch_writes_nothing(
    counted: BaseRepository[Counted], bad: Counted
) -> None:
    good = [Counted(note="a"), Counted(note="b"), Counted(note="c")]
    with pytest.raises(ValidationError):
        await counted.create_many([*good[:2], bad, good[2]])
    assert await counted.count() == 0

    stored = await counted.create_many(good)
    assert bad.id is None
    changed = [row.model_copy(update={"note": f"{row.note}!"}) for row in stored]
    replacement = bad.model_copy(update={"id": stored[1].id})
    with pytest.raises(ValidationError):
        await counted.update_many([changed[0], replacement, changed[2]])
    assert sorted((row.id, row.note) for row in await counted.list()) == sorted(
        (row.id, row.note) for row in stored
    )


@pytest.mark.parametrize("key", ["\ud800", "x\udfffy", "\ud83d\ude00"])
async def test_a_key_holding_a_surrogate_is_a_validation_error(
    prefixed: BaseRepository[Prefixed], key: str
) -> None:
    with pytest.raises(ValidationError):
        await prefixed.create(Prefixed(id=key))
    with pytest.raises(ValidationError):
        await prefixed.get(key)
    with pytest.raises(ValidationError):
        await prefixed.delete_many(["fine", key])
    # A filter value no row can hold matches nothing, whichever way the backend looks it up.
    await prefixed.create(Prefixed(id="fine", label="fine", code="fine"))
    assert await prefixed.list(col(Prefixed.label) == key) == []
    assert await prefixed.count(col(Prefixed.label).in_(["other", key])) == 0
    assert await prefixed.count(col(Prefixed.label).in_(["fine", key])) == 1
    assert await prefixed.first(col(Prefixed.code) == key) is None
    assert await prefixed.count(col(Prefixed.label) != key) == 1
    assert await prefixed.count(col(Prefixed.id).in_([key])) == 0

    assert await prefixed.count() == 1


async def test_text_beyond_the_basic_plane_and_control_characters_come_back_exactly(
    counted: BaseRepository[Counted],
) -> None:
    notes = ["\U0001f600", "\x01\x1f\x7f", "\u2028\u2029", "e\u0301", "\\ud800", '"\\']

    stored = await counted.create_many(Counted(note=note) for note in notes)

    assert [(await counted.get_one(row.id or 0)).note for row in stored] == notes


async def test_text_with_query_metacharacters_matches_exactly_also_among_other_values(
    prefixed: BaseRepository[Prefixed],
) -> None:
    """Found by the property suite: a tag value ending with a backslash, followed by more of
    the query, broke RediSearch's parser."""
    labels = ["\\", "a\\", '\\"', '"', "|", "{}", "$v0", "a b", "", "*", "-a", "@label"]
    await prefixed.create_many(Prefixed(id=str(n), label=label) for n, label in enumerate(labels))

    for label in labels:
        found = await prefixed.list(col(Prefixed.label).in_([label, "zz"]))
        assert [row.label for row in found] == [label]
        assert await prefixed.count(col(Prefixed.label) == label, col(Prefixed.id) != "x") == 1
    assert await prefixed.count(col(Prefixed.label).not_in(labels[:6])) == len(labels) - 6


async def test_integers_beyond_2_53_compare_and_order_exactly(
    counted: BaseRepository[Counted],
) -> None:
    """The search index holds numbers as doubles, in which 2**63 - 1 and 2**63 - 2 are one."""
    top = 2**63 - 1
    await counted.create_many(
        [Counted(id=top - 1, amount=top - 1), Counted(id=top, amount=top - 2), Counted(amount=5)]
    )

    by_id = await counted.list(order_by=col(Counted.id).desc(), limit=2)
    assert [row.id for row in by_id] == [top, top - 1]
    by_amount = await counted.list(col(Counted.amount) > 0, order_by=col(Counted.amount), limit=2)
    assert [row.amount for row in by_amount] == [5, top - 2]
    assert await counted.count(col(Counted.amount) >= top - 1) == 1
    assert [row.id for row in await counted.list(col(Counted.amount) == top - 2)] == [top]


async def test_a_filter_value_is_held_to_its_type_not_to_the_fields_constraints(
    provider: RepositoryProvider,
) -> None:
    """A mistyped e-mail address looked up finds nothing, as in SQL; it is no error."""
    accounts = provider.get_repository(UserAccount)
    ada = await accounts.create(UserAccount(email="ada@example.com", display_name="Ada", age=36))

    assert await accounts.first(col(UserAccount.email) == "not-an-email") is None
    assert await accounts.count(col(UserAccount.email).in_(["x", "ada@example.com"])) == 1
    assert await accounts.first(col(UserAccount.email) == "ada@example.com") == ada
