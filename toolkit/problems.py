"""Toolkit errors as HTTP answers: problem details (RFC 9457) for FastAPI and other Starlette
apps.

`add_exception_handlers(app)` answers every `ToolkitError` an endpoint (or a dependency) raises
with its status and an ``application/problem+json`` body; `problem_details` is the mapping
itself, for other frameworks. A body says what the client can act on and nothing of the
server's insides: no driver text, SQL, host, URL or password, and no input values (a
`ValidationError`'s errors keep ``loc``, ``msg`` and ``type``, not pydantic's ``input`` and
``ctx``, which may hold a secret the client sent). Server-side failures are logged, with their
cause, on the ``toolkit.problems`` logger.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from toolkit.errors import (
    BackendUnavailableError,
    ConflictError,
    ConstraintError,
    NotFoundError,
    StaleVersionError,
    ToolkitError,
    UnsupportedQueryError,
    ValidationError,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["PROBLEM_JSON", "TYPE_BASE", "Problem", "add_exception_handlers", "problem_details"]

PROBLEM_JSON = "application/problem+json"
"""The media type of a problem details body."""

TYPE_BASE = "tag:toolkit,2025:"
"""The start of each problem's ``type`` URI (a tag URI: an identifier, not a page to fetch);
its last part names the kind of problem: ``not-found``, ``conflict``, ``stale-version``,
``constraint``, ``validation``, ``unsupported-query``, ``unavailable``, ``internal``."""

_LOG = logging.getLogger("toolkit.problems")

# What the server's own failures say: their messages name hosts and carry driver text.
_UNAVAILABLE = "The storage backend is unavailable; try again later."
_INTERNAL = "The server could not complete the request."
_UNSUPPORTED = "The storage backend cannot answer this query exactly."  # the message holds SQL


@dataclass(frozen=True, slots=True)
class Problem:
    """An HTTP answer to a toolkit error: its status, its problem details body (JSON-ready) and
    its headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def problem_details(
    error: ToolkitError, *, retry_after: int = 5, type_base: str = TYPE_BASE
) -> Problem:
    """The answer to ``error``: 404 `NotFoundError`; 409 `ConflictError` (`StaleVersionError`
    included) and `ConstraintError`, with ``model`` and ``fields``; 422 `ValidationError`, with
    ``errors``; 400 `UnsupportedQueryError`; 503 `BackendUnavailableError`, with a
    ``Retry-After`` of ``retry_after`` seconds; 500 for any other (`ConfigurationError`, ...)."""

    def problem(status: int, kind: str, title: str, detail: str, **extra: Any) -> Problem:
        body = {"type": type_base + kind, "title": title, "status": status, "detail": detail}
        return Problem(status, body | extra)

    if isinstance(error, NotFoundError):
        return problem(404, "not-found", "Not found", str(error), model=error.model)
    if isinstance(error, ConflictError | ConstraintError):
        kind, title = (
            ("stale-version", "Stale version")
            if isinstance(error, StaleVersionError)
            else ("conflict", "Conflict")
            if isinstance(error, ConflictError)
            else ("constraint", "Constraint violated")
        )
        extra: dict[str, Any] = {"fields": list(error.fields)}
        if error.model:
            extra["model"] = error.model
        return problem(409, kind, title, str(error), **extra)
    if isinstance(error, ValidationError):
        errors: list[dict[str, Any]] = []
        said: list[str] = []
        for item in error.errors:
            errors.append({"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]})
            where = ".".join(str(part) for part in item["loc"])
            said.append(f"{where}: {item['msg']}" if where else item["msg"])
        detail = "; ".join(said)
        return problem(422, "validation", "Invalid values", detail, errors=errors)
    if isinstance(error, UnsupportedQueryError):
        return problem(400, "unsupported-query", "Unsupported query", _UNSUPPORTED)
    if isinstance(error, BackendUnavailableError):
        unavailable = problem(503, "unavailable", "Storage unavailable", _UNAVAILABLE)
        unavailable.headers["Retry-After"] = str(retry_after)
        return unavailable
    return problem(500, "internal", "Internal error", _INTERNAL)


def add_exception_handlers(
    app: Starlette, *, retry_after: int = 5, type_base: str = TYPE_BASE
) -> None:
    """Answer every `ToolkitError` raised in ``app``'s endpoints and dependencies with its
    problem details (`problem_details`). A handler the app registers for a subclass (say
    `NotFoundError`) takes precedence, as Starlette picks the closest class."""
    from starlette.responses import JSONResponse  # FastAPI (Starlette) is an optional extra

    async def answer(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, ToolkitError):  # registered for ToolkitError only
            raise exc
        problem = problem_details(exc, retry_after=retry_after, type_base=type_base)
        # The server's own failures (and a query the app should not send) are for its logs.
        if problem.status == 500:
            _LOG.error("%s %s: %s", request.method, request.url.path, exc, exc_info=exc)
        elif problem.status in (400, 503):
            _LOG.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            problem.body, problem.status, problem.headers or None, media_type=PROBLEM_JSON
        )

    app.add_exception_handler(ToolkitError, answer)
