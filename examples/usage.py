"""Usage examples: the patterns an application needs, each printed as it runs.

``python -m examples.usage``, from the repository's root, runs them on an in-memory SQLite
database (no server, no files left behind); ``--backend postgres`` or ``--backend redis`` runs
them there instead. The models are the repository's ``models`` package, as an application's
would be its own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from datetime import UTC, datetime, timedelta, timezone

from models import ActionExecution, ActionStatus, Hero, Team
from toolkit import (
    ConstraintError,
    NotFoundError,
    Settings,
    ToolkitError,
    ValidationError,
    get_provider,
    get_sync_provider,
)


async def async_examples(settings: Settings) -> None:
    """Async code: one provider per task, repositories from it, toolkit errors to handle."""
    async with get_provider(settings=settings) as provider:
        actions = provider.get_repository(ActionExecution)

        # A UUID key made by the model's default factory; datetimes come back in UTC.
        in_tokyo = datetime(2026, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=9)))
        action = await actions.create(
            ActionExecution(action_name="nightly-export", started_at=in_tokyo)
        )
        print(f"async: created action {action.id} started {action.started_at.isoformat()}")

        # Bulk writes are all or nothing.
        batch = [ActionExecution(action_name=f"step-{i}", attempts=i) for i in range(3)]
        batch.append(ActionExecution(action_name="bad", attempts=-1))
        try:
            await actions.create_many(batch)
        except ValidationError as exc:
            print(f"async: batch refused, {exc}; rows now: {len(await actions.list())}")

        action.status = ActionStatus.FAILED
        action.finished_at = datetime.now(UTC)
        await actions.update(action)
        try:
            await actions.get_one(uuid.uuid4())
        except NotFoundError as exc:
            print(f"async: get_one of an unknown id: NotFoundError ({exc.model})")
        await actions.delete(action.id)


def sync_examples(settings: Settings) -> None:
    """Sync code: the same contract without await."""
    with get_sync_provider(settings=settings) as provider:
        teams = provider.get_repository(Team)
        heroes = provider.get_repository(Hero)
        team = teams.create(Team(name="Example League"))
        members = heroes.create_many(
            [Hero(name=name, secret_name="?", team_id=team.id) for name in ("Ana", "Bo", "Cy")]
        )
        print(f"sync: team {team.name!r} with {len(members)} heroes: {[h.id for h in members]}")
        try:
            heroes.create(Hero(name="Drifter", secret_name="?", team_id=-1))
        except ConstraintError:
            print("sync: a hero of a team that does not exist: ConstraintError")
        try:
            teams.delete(team.id or 0)
        except ConstraintError:
            print("sync: deleting a team that still has heroes: ConstraintError")
        for hero in members:
            heroes.delete(hero.id or 0)
        print(f"sync: team deleted once empty: {teams.delete(team.id or 0)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "redis"], default="sqlite")
    args = parser.parse_args(argv)
    settings = Settings.from_env(backend=args.backend)
    if args.backend == "sqlite":
        settings = settings.replace(sqlite_url="sqlite+aiosqlite://")
    print(f"usage examples on {args.backend}")
    try:
        asyncio.run(async_examples(settings))
        sync_examples(settings)
    except ToolkitError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
