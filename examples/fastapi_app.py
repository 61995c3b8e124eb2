"""An example FastAPI app on the toolkit's public API (needs the ``fastapi`` extra, and uvicorn to
serve it).

Run it from the repository's root with ``uvicorn examples.fastapi_app:app``; its models are the
repository's ``models`` package. The backend is the one the environment configures
(``STORAGE_BACKEND``, ``POSTGRES_DATABASE_URL``, ``SQLITE_DATABASE_URL``, ...): the dependencies
`get_repository_provider` (async endpoints) and `get_sync_repository_provider` (``def``
endpoints, run in FastAPI's thread pool) open one provider per request and close it after the
request, also when the endpoint raises.

Toolkit errors become HTTP answers: `NotFoundError` 404, `ValidationError` 422 (with pydantic's
error list), `ConflictError` and `ConstraintError` 409 (the write clashes with stored rows),
`BackendUnavailableError` 503.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from models import Hero, Team
from toolkit import (
    BackendUnavailableError,
    ConflictError,
    ConstraintError,
    NotFoundError,
    RepositoryProvider,
    SyncRepositoryProvider,
    ToolkitError,
    ValidationError,
    get_repository_provider,
    get_sync_repository_provider,
)

__all__ = ["ExampleFailure", "HeroCreate", "TeamCreate", "app", "create_app"]

AsyncProvider = Annotated[RepositoryProvider, Depends(get_repository_provider)]
SyncProvider = Annotated[SyncRepositoryProvider, Depends(get_sync_repository_provider)]

_STATUS_BY_ERROR: tuple[tuple[type[ToolkitError], int], ...] = (
    (NotFoundError, status.HTTP_404_NOT_FOUND),
    (ValidationError, status.HTTP_422_UNPROCESSABLE_CONTENT),
    (ConflictError, status.HTTP_409_CONFLICT),
    (ConstraintError, status.HTTP_409_CONFLICT),
    (BackendUnavailableError, status.HTTP_503_SERVICE_UNAVAILABLE),
)


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


async def toolkit_error_response(request: Request, exc: Exception) -> JSONResponse:
    """The JSON answer for a toolkit error: ``{"detail": ...}``, plus ``errors`` on a 422."""
    code = next((code for kind, code in _STATUS_BY_ERROR if isinstance(exc, kind)), None)
    if code is None:
        raise exc  # registered only for the types above; anything else is a server error
    if isinstance(exc, BackendUnavailableError):
        # Says where the backend is, never how to log in to it; still, keep it server-side.
        return JSONResponse({"detail": "storage backend unavailable"}, status_code=code)
    body: dict[str, object] = {"detail": str(exc)}
    if isinstance(exc, ValidationError):
        body["errors"] = [
            {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
            for error in exc.errors
        ]
    return JSONResponse(body, status_code=code)


def create_app() -> FastAPI:
    """A new app with the example endpoints and the toolkit error handlers."""
    app = FastAPI(title="toolkit example")
    for error_type, _code in _STATUS_BY_ERROR:
        app.add_exception_handler(error_type, toolkit_error_response)

    @app.post("/heroes", status_code=status.HTTP_201_CREATED)
    async def create_hero(body: HeroCreate, provider: AsyncProvider) -> Hero:
        """Create a hero (async endpoint)."""
        return await provider.get_repository(Hero).create(Hero(**body.model_dump()))

    @app.get("/heroes/{hero_id}")
    async def read_hero(hero_id: int, provider: AsyncProvider) -> Hero:
        """Read one hero; 404 when there is none (async endpoint)."""
        return await provider.get_repository(Hero).get_one(hero_id)

    @app.get("/sync/heroes")
    def list_heroes(provider: SyncProvider) -> list[Hero]:
        """Every hero, in id order (sync endpoint)."""
        return provider.get_repository(Hero).list()

    @app.post("/sync/teams", status_code=status.HTTP_201_CREATED)
    def create_team(body: TeamCreate, provider: SyncProvider) -> Team:
        """Create a team; 409 when the name is taken (sync endpoint)."""
        return provider.get_repository(Team).create(Team(**body.model_dump()))

    @app.delete("/sync/teams/{team_id}", status_code=status.HTTP_204_NO_CONTENT)
    def delete_team(team_id: int, provider: SyncProvider) -> None:
        """Delete a team; 404 when there is none, 409 while heroes belong to it (sync endpoint)."""
        if not provider.get_repository(Team).delete(team_id):
            raise NotFoundError("Team", team_id)

    @app.get("/failures/async")
    async def fail_async(provider: AsyncProvider) -> None:
        """Use the provider, then raise: the provider is closed all the same."""
        await provider.get_repository(Hero).list()
        raise ExampleFailure("async endpoint failed after using its provider")

    @app.get("/failures/sync")
    def fail_sync(provider: SyncProvider) -> None:
        """Use the provider, then raise: the provider is closed all the same."""
        provider.get_repository(Hero).list()
        raise ExampleFailure("sync endpoint failed after using its provider")

    return app


app = create_app()
