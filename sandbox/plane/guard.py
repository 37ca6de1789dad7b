"""The checks in front of every emulated view, in a real server's order: route (an
unknown path is a bare 404 that costs no budget), key (401/403), workspace (403), rate
limit (429), and only then the view. Every answer past the rate limit carries the
X-RateLimit-* headers, errors included."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.plane.emulator import PlaneEmulator
from sandbox.plane.listing import ListingError

Handler = Callable[[Request], Awaitable[Response]]

NOT_FOUND = {"error": "The requested resource does not exist."}
RATE_LIMITED = {"error_code": 5900, "error_message": "RATE_LIMIT_EXCEEDED"}


class NotFound(LookupError):
    """The view's 404: no such object in this workspace or project."""


class RequestRejected(Exception):
    """A 4xx with Plane's body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


async def page_not_found(request: Request, exc: Exception) -> Response:
    """An unknown path: Django's bare 404, before any check, free of charge."""
    return JSONResponse({"error": "Page not found."}, status_code=404)


def guarded(emulator: PlaneEmulator, name: str, view: Handler) -> Handler:
    """`view` behind Plane's checks, counted in the emulator's stats."""

    async def endpoint(request: Request) -> Response:
        emulator.stats.calls += 1
        emulator.stats.by_route[f"{request.method} {name}"] += 1
        key = request.headers.get("x-api-key")
        if not key:
            return json_response({"detail": "Authentication credentials were not provided."}, 401)
        if key not in emulator.api_keys:
            return json_response({"detail": "Given API token is not valid"}, 403)
        # /users/me/ is the one path outside the workspace
        if request.path_params.get("slug", emulator.workspace) != emulator.workspace:
            return json_response(
                {"detail": "You do not have permission to perform this action."}, 403
            )
        admission = emulator.admit(key)
        if not admission.allowed:
            emulator.stats.rate_limited += 1
            return json_response(RATE_LIMITED, 429, {"Retry-After": str(admission.retry_after)})
        response = await _answer(view, request)
        reset = int(emulator.clock.now().timestamp()) + 60  # Plane: always now + 60 s
        response.headers["X-RateLimit-Remaining"] = str(admission.remaining)
        response.headers["X-RateLimit-Reset"] = str(reset)
        return response

    return endpoint


async def _answer(view: Handler, request: Request) -> Response:
    try:
        return await view(request)
    except NotFound:
        return json_response(NOT_FOUND, 404)
    except (ListingError, RequestRejected) as exc:
        return json_response(exc.body, exc.status)


def json_response(
    body: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    background: BackgroundTask | None = None,
) -> Response:
    return JSONResponse(body, status_code=status, headers=headers, background=background)


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise RequestRejected(400, {"detail": f"JSON parse error - {exc}"}) from exc
    if not isinstance(body, dict):
        raise RequestRejected(400, {"non_field_errors": ["Invalid data."]})
    return body
