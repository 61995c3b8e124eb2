"""A short tour of the toolkit (async): create, read, update, list and delete on one backend.

Run it with ``python -m toolkit`` (SQLite by default, no server needed) or
``python -m toolkit --backend postgres`` (or ``redis``).
``python -m toolkit.sync_demo`` is the sync twin.
"""

from __future__ import annotations

import sys

from models import ActionExecution, ActionStatus, Hero, Team
from toolkit._demo_cli import run_demo_cli
from toolkit._model import model_facts
from toolkit.errors import ConflictError, ValidationError
from toolkit.storage_dependencies import get_provider


async def demo(backend: str) -> None:
    """Walk through the repository API on ``backend``, printing each step; leave no rows behind."""
    print(f"backend: {backend}")
    async with get_provider(backend) as provider:
        teams = provider.get_repository(Team)
        heroes = provider.get_repository(Hero)
        actions = provider.get_repository(ActionExecution)

        team = await teams.create(Team(name="Demo Preventers", headquarters="Sharp Tower"))
        hero = await heroes.create(
            Hero(name="Deadpond", secret_name="Dive Wilson", team_id=team.id)
        )
        print(f"created: {hero.name} (id {hero.id}) in team {team.name!r} (id {team.id})")

        hero.age = 32
        hero = await heroes.update(hero)
        fetched = await heroes.get_one(hero.id or 0)
        print(f"updated and read back: {fetched.name}, age {fetched.age}")

        try:
            await teams.create(Team(name="Demo Preventers"))
        except ConflictError:
            print("a second team with the same name: ConflictError")
        try:
            await heroes.create(Hero(name="", secret_name="nobody"))
        except ValidationError as exc:
            print(f"a hero with an empty name: ValidationError ({exc.errors[0]['loc']})")

        action = await actions.create(
            ActionExecution(action_name="send-report", parameters={"to": "ops"})
        )
        action.status = ActionStatus.SUCCEEDED
        action = await actions.update(action)
        started = action.started_at.isoformat(timespec="seconds")
        print(f"action {action.action_name}: {action.status.value}, started {started}")

        names = [h.name for h in await heroes.list()]
        print(f"heroes listed: {len(names)}, including {hero.name!r}: {hero.name in names}")

        deleted = [
            await actions.delete(action.id),
            await heroes.delete(hero.id or 0),
            await teams.delete(team.id or 0),
        ]
        gone = await heroes.get(hero.id or 0)
        print(f"deleted the demo's rows: {all(deleted)}; the hero is now {gone}")
    tables = ", ".join(model_facts(m).table.name for m in (Team, Hero, ActionExecution))
    print(f"done; tables used: {tables}")


if __name__ == "__main__":
    sys.exit(run_demo_cli(demo, "Async demo of the toolkit's repositories."))
