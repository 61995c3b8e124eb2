"""An example FastAPI app on the toolkit's public API (needs the ``fastapi`` extra, and uvicorn to
serve it).

Run it from the repository's root with ``uvicorn examples.fastapi_app:app``; its models are the
repository's ``models`` package. Each endpoint asks for the repository of the model it serves
(`repository_for` for ``async def`` endpoints, `sync_repository_for` for ``def`` endpoints, run
in FastAPI's thread pool); the repositories of one request share one provider, opened for the
request and closed after it, also when the endpoint raises. The storage is the one the
environment configures (``STORAGE_BACKEND``, ``POSTGRES_DATABASE_URL``, ...), or the settings
given to `create_app`.

`add_exception_handlers` turns toolkit errors into problem details (RFC 9457): `NotFoundError`
404, `ConflictError` and `ConstraintError` 409 (with the model and the fields at fault),
`ValidationError` 422 (with pydantic's error list), `UnsupportedQueryError` 400,
`BackendUnavailableError` 503 (with ``Retry-After``), anything else 500.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, status
from pydantic import BaseModel

from models import Hero, Team
from toolkit import (
    BaseRepository,
    BaseSyncRepository,
    NotFoundError,
    Settings,
    add_exception_handlers,
    get_repository_provider,
    get_sync_repository_provider,
    provider_dependency,
    repository_for,
    sync_provider_dependency,
    sync_repository_for,
)

__all__ = ["ExampleFailure", "HeroCreate", "TeamCreate", "app", "create_app"]

Heroes = Annotated[BaseRepository[Hero], Depends(repository_for(Hero))]
SyncHeroes = Annotated[BaseSyncRepository[Hero], Depends(sync_repository_for(Hero))]
SyncTeams = Annotated[BaseSyncRepository[Team], Depends(sync_repository_for(Team))]


class HeroCreate(BaseModel):
    """The body of ``POST /heroes``: only its shape; the repository checks the Hero schema."""

    name: str
    secret_name: str
    age: int | None = None
    team_id: int | None = None


class TeamCreate(BaseModel):
    """The body of ``POST /sync/teams``: only its shape; the repository checks the Team schema."""

    name: str
    headquarters: str | None = None


class ExampleFailure(RuntimeError):
    """Raised on purpose by the ``/failures`` endpoints, after they have used their provider."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app with the example endpoints and the toolkit's error handlers; on ``settings``
    when given, else on the environment's (read at each request)."""
    app = FastAPI(title="toolkit example")
    add_exception_handlers(app)
    if settings is not None:
        # Every repository dependency depends on these two: replacing them moves them all.
        app.dependency_overrides[get_repository_provider] = provider_dependency(settings=settings)
        app.dependency_overrides[get_sync_repository_provider] = sync_provider_dependency(
            settings=settings
        )

    @app.post("/heroes", status_code=status.HTTP_201_CREATED)
    async def create_hero(body: HeroCreate, heroes: Heroes) -> Hero:
        """Create a hero (async endpoint)."""
        return await heroes.create(Hero(**body.model_dump()))

    @app.get("/heroes/{hero_id}")
    async def read_hero(hero_id: int, heroes: Heroes) -> Hero:
        """Read one hero; 404 when there is none (async endpoint)."""
        return await heroes.get_one(hero_id)

    @app.get("/sync/heroes")
    def list_heroes(heroes: SyncHeroes) -> list[Hero]:
        """Every hero, in id order (sync endpoint)."""
        return heroes.list()

    @app.post("/sync/teams", status_code=status.HTTP_201_CREATED)
    def create_team(body: TeamCreate, teams: SyncTeams) -> Team:
        """Create a team; 409 when the name is taken (sync endpoint)."""
        return teams.create(Team(**body.model_dump()))

    @app.delete("/sync/teams/{team_id}", status_code=status.HTTP_204_NO_CONTENT)
    def delete_team(team_id: int, teams: SyncTeams) -> None:
        """Delete a team; 404 when there is none, 409 while heroes belong to it (sync endpoint)."""
        if not teams.delete(team_id):
            raise NotFoundError("Team", team_id)

    @app.get("/failures/async")
    async def fail_async(heroes: Heroes) -> None:
        """Use the provider, then raise: the provider is closed all the same."""
        await heroes.list()
        raise ExampleFailure("async endpoint failed after using its provider")

    @app.get("/failures/sync")
    def fail_sync(heroes: SyncHeroes) -> None:
        """Use the provider, then raise: the provider is closed all the same."""
        heroes.list()
        raise ExampleFailure("sync endpoint failed after using its provider")

    return app


app = create_app()
