"""A model with a composite primary key (a many-to-many link, say) cannot be stored on Redis, but
its presence in the metadata must not stop the models that can: the write script's plan of what
a delete reaches leaves out the tables no repository can hold."""

from __future__ import annotations

import pytest
from sqlmodel import Field, SQLModel

from models.heroes import Hero
from toolkit.config import Settings
from toolkit.errors import ConfigurationError
from toolkit.storage_dependencies import get_provider


class HeroBadge(SQLModel, table=True):
    """A link row: a hero and a badge name, together the key."""

    hero_id: int = Field(foreign_key="hero.id", primary_key=True, ondelete="CASCADE")
    badge: str = Field(primary_key=True, max_length=40)


@pytest.fixture
def backend() -> str:
    return "redis"


async def test_models_beside_a_composite_key_link_work_on_redis(settings: Settings) -> None:
    async with get_provider(settings=settings) as provider:
        heroes = provider.get_repository(Hero)
        made = await heroes.create(Hero(name="Linked", secret_name="L"))
        assert made.id is not None
        assert await heroes.get_one(made.id) == made
        assert await heroes.delete(made.id)
        assert await heroes.get(made.id) is None
        with pytest.raises(ConfigurationError, match="exactly one primary key"):
            provider.get_repository(HeroBadge)
