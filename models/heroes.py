"""Heroes and their teams: integer keys, a unique name, a foreign key."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


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
