"""Instances read from storage are complete and independent of one another on every backend,
though the instances of a model share what never differs between them (`build_instance`)."""

from __future__ import annotations

import copy
import pickle

from models.heroes import Hero
from toolkit.config import Settings
from toolkit.storage_dependencies import get_provider

FIELDS = {"id", "name", "secret_name", "age", "team_id"}


async def test_instances_read_are_complete_and_changing_one_changes_no_other(
    settings: Settings,
) -> None:
    async with get_provider(settings=settings) as provider:
        heroes = provider.get_repository(Hero)
        await heroes.create_many([Hero(name=f"h{i}", secret_name=f"s{i}") for i in range(3)])
        first, second, third = await heroes.list(order_by=Hero.name)
    for hero in (first, second, third):
        assert hero.model_fields_set == FIELDS
        assert set(hero.model_dump(exclude_unset=True)) == FIELDS
    first.name = "changed"
    first.age = 40
    copied = second.model_copy(update={"age": 7})
    unpickled = pickle.loads(pickle.dumps(third))
    unpickled.age = 9
    deep = copy.deepcopy(third)
    deep.age = 11
    assert (first.name, first.age) == ("changed", 40)
    assert (second.name, second.age, copied.age) == ("h1", None, 7)
    assert (third.age, unpickled.age, deep.age) == (None, 9, 11)
    for hero in (first, second, third, copied, unpickled, deep):
        assert hero.model_fields_set == FIELDS
