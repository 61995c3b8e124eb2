"""Filters that a type checker cannot refuse are refused at run time, on every backend."""

from __future__ import annotations

import asyncio

import pytest

from models import Hero, Team
from toolkit.config import Settings
from toolkit.errors import ValidationError
from toolkit.storage_dependencies import get_provider
from toolkit.sync_storage_dependencies import get_sync_provider


def test_an_instance_comparison_is_refused_not_read_as_true(settings: Settings) -> None:
    with get_sync_provider(settings=settings) as provider:
        heroes = provider.get_repository(Hero)
        hero = heroes.create(Hero(name="a", secret_name="s"))
        heroes.create(Hero(name="b", secret_name="s"))

        # `hero.name == "a"` is the Python bool True: as a filter it would match every row.
        with pytest.raises(ValidationError, match="expression over Hero's columns"):
            heroes.delete_where(hero.name == "a")
        with pytest.raises(ValidationError):
            heroes.list(True)

        assert heroes.count() == 2


def test_async_an_instance_comparison_is_refused(settings: Settings) -> None:
    async def attempt() -> int:
        async with get_provider(settings=settings) as provider:
            teams = provider.get_repository(Team)
            team = await teams.create(Team(name="x"))
            with pytest.raises(ValidationError):
                await teams.delete_where(team.name == "x")
            return await teams.count()

    assert asyncio.run(attempt()) == 1


def test_delete_many_refuses_one_string_of_keys(settings: Settings) -> None:
    with get_sync_provider(settings=settings) as provider:
        heroes = provider.get_repository(Hero)
        created = heroes.create_many(
            [Hero(id=1, name="a", secret_name="s"), Hero(id=2, name="b", secret_name="s")]
        )

        with pytest.raises(ValidationError, match="collection of primary keys"):
            heroes.delete_many("12")  # the characters "1" and "2" are not what was meant

        assert heroes.list() == created
