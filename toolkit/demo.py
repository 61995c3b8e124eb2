"""A short tour of the toolkit's repositories: create, read, update, list and delete on one
backend, through the provider that ``get_provider`` opens.

``python -m toolkit`` runs the async tour, ``toolkit/demo.py``; ``python -m toolkit.sync_demo``
runs the same tour in sync code, ``toolkit/sync_demo.py``, which unasyncd generates from
``toolkit/demo.py``. Each runs on SQLite by default (no server needed), or on the backend that
``--backend postgres`` (or ``redis``) or ``STORAGE_BACKEND`` names.

The tour's models are the demo's own (`toolkit._demo_models`, tables ``demo_*``), not an
application's, so it runs from any install of the package; it leaves no rows behind.
"""

from __future__ import annotations

import sys

from toolkit._demo_cli import run_demo_cli
from toolkit._demo_models import DemoAction, DemoActionStatus, DemoHero, DemoTeam
from toolkit._model import model_facts
from toolkit.errors import ConflictError, ValidationError
from toolkit.storage_dependencies import get_provider


async def demo(backend: str) -> None:
    """Walk through the repository API on ``backend``, printing each step; leave no rows behind."""
    print(f"backend: {backend}")
    async with get_provider(backend) as provider:
        teams = provider.get_repository(DemoTeam)
        heroes = provider.get_repository(DemoHero)
        actions = provider.get_repository(DemoAction)

        team = await teams.create(DemoTeam(name="Demo Preventers", headquarters="Sharp Tower"))
        hero = await heroes.create(
            DemoHero(name="Deadpond", secret_name="Dive Wilson", team_id=team.id)
        )
        print(f"created: {hero.name} (id {hero.id}) in team {team.name!r} (id {team.id})")

        hero.age = 32
        hero = await heroes.update(hero)
        fetched = await heroes.get_one(hero.id or 0)
        print(f"updated and read back: {fetched.name}, age {fetched.age}")

        try:
            await teams.create(DemoTeam(name="Demo Preventers"))
        except ConflictError:
            print("a second team with the same name: ConflictError")
        try:
            await heroes.create(DemoHero(name="", secret_name="nobody"))
        except ValidationError as exc:
            print(f"a hero with an empty name: ValidationError ({exc.errors[0]['loc']})")

        action = await actions.create(
            DemoAction(action_name="send-report", parameters={"to": "ops"})
        )
        action.status = DemoActionStatus.SUCCEEDED
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
    tables = ", ".join(model_facts(m).table.name for m in (DemoTeam, DemoHero, DemoAction))
    print(f"done; tables used: {tables}")


if __name__ == "__main__":
    sys.exit(run_demo_cli(demo, "A short tour of the toolkit's repositories on one backend."))
