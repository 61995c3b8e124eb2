"""Heroes, their teams, powers, missions, sidekicks and incidents: integer keys, unique values
(one over two columns), and foreign keys with each ``ondelete`` rule.

- ``hero.team_id -> team.id`` RESTRICT: a team with heroes cannot be deleted.
- ``power.hero_id -> hero.id`` CASCADE: a hero's powers go with the hero.
- ``mission.leader_id -> hero.id`` SET NULL: a mission outlives its leader.
- ``sidekick.mentor_id -> hero.id`` SET NULL and unique: each hero mentors one sidekick at most.
- ``incident.power_id -> power.id`` RESTRICT: a power on record in an incident cannot go, so
  neither can its hero (the cascade stops there).
- ``incident.mission_id -> mission.id`` with no rule (NO ACTION): refused like RESTRICT.

No ``from __future__ import annotations`` here: SQLModel reads `Relationship` annotations at
class creation, and would see the whole string ``"list[Power]"`` instead of a generic.
"""

from datetime import date

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, Relationship, SQLModel


class Team(SQLModel, table=True):
    """A team; its name is unique."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, min_length=1, max_length=100)
    headquarters: str | None = Field(default=None, max_length=200)


class Hero(SQLModel, table=True):
    """A hero, who may belong to a team."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, min_length=1, max_length=100)
    secret_name: str = Field(max_length=100)
    age: int | None = Field(default=None, ge=0, le=10_000)
    team_id: int | None = Field(default=None, foreign_key="team.id", ondelete="RESTRICT")

    powers: list["Power"] = Relationship(back_populates="hero")


class Power(SQLModel, table=True):
    """Something a hero can do; deleted with the hero. A hero has each power once."""

    __table_args__ = (UniqueConstraint("hero_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(min_length=1, max_length=100)
    level: int = Field(default=1, ge=1, le=10)
    hero_id: int = Field(foreign_key="hero.id", ondelete="CASCADE", index=True)

    hero: Hero | None = Relationship(back_populates="powers")


class Mission(SQLModel, table=True):
    """A mission; it stays on record when its leader is deleted (the leader becomes None)."""

    id: int | None = Field(default=None, primary_key=True)
    codename: str = Field(unique=True, min_length=1, max_length=100)
    leader_id: int | None = Field(default=None, foreign_key="hero.id", ondelete="SET NULL")

    leader: Hero | None = Relationship()


class Sidekick(SQLModel, table=True):
    """A sidekick, mentored by one hero at most, and each hero mentors one sidekick at most; a
    sidekick whose mentor is deleted stays, unassigned."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(min_length=1, max_length=100)
    mentor_id: int | None = Field(
        default=None, foreign_key="hero.id", ondelete="SET NULL", unique=True
    )

    mentor: Hero | None = Relationship()


class Incident(SQLModel, table=True):
    """An incident report: which power was used, during which mission. Reports are kept, so
    they hold on to the power and the mission they name."""

    id: int | None = Field(default=None, primary_key=True)
    reported_on: date
    summary: str = Field(max_length=500)
    power_id: int = Field(foreign_key="power.id", ondelete="RESTRICT")
    mission_id: int | None = Field(default=None, foreign_key="mission.id")
