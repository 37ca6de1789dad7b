"""orch's HTTP API: health, the lessons journal and the /queue data, as JSON.

    GET  /healthz               no auth
    GET  /api/lessons           filters as query parameters: type, status, repo, stage,
                                key (or work_item), since (ISO time), limit
    POST /api/lessons           a manual lesson; `lesson_type` is required
    POST /api/lessons/{id}      triage: status, attribution, target_repo, target_domain,
                                related_task, root_cause, suggestion; optional `version`
    GET  /api/queue             what /queue shows, from the summary cache: headers
                                X-Orch-Cache (miss, hit, stale) and X-Orch-Revision;
                                `?refresh=true` or `Cache-Control: no-cache` rebuilds

Everything under /api needs `Authorization: Bearer <ORCH_API_TOKEN>` (401 otherwise);
with no token configured those endpoints answer 404, so an unset token never means an
open API. With the journal switched off the lessons endpoints answer {"enabled": false}.
Other features add routes (e.g. a tracker webhook) through `extra_routes`.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core.clock import utc_iso
from core.jobs.effort import EffortView
from core.lessons.journal import Lesson, LessonJournal
from core.lessons.requests import parse_draft, parse_filter, parse_update
from core.queue_view import QueueEntry, QueueService, QueueView

Endpoint = Callable[[Request], Awaitable[Response]]

DISABLED = {"error": "the HTTP API is disabled: ORCH_API_TOKEN is not set"}
UNAUTHORISED = {"error": "a valid bearer token is required"}
OFF = {"enabled": False}
API_MAX_LIMIT = 1000


def build_http_app(*, lessons: LessonJournal, queue: QueueService, api_token: str,
                   extra_routes: Sequence[BaseRoute] = (), runs: EffortView | None = None,
                   ) -> Starlette:
    """The Starlette app; `api_token` empty disables every /api endpoint."""
    api = _Api(lessons, queue)

    def guarded(endpoint: Endpoint) -> Endpoint:
        async def checked(request: Request) -> Response:
            if not api_token:
                return JSONResponse(DISABLED, status_code=404)
            if not _bearer_matches(request, api_token):
                return JSONResponse(UNAUTHORISED, status_code=401,
                                    headers={"WWW-Authenticate": "Bearer"})
            return await endpoint(request)
        return checked

    routes: list[BaseRoute] = [
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/api/lessons", guarded(api.list_lessons), methods=["GET"]),
        Route("/api/lessons", guarded(api.add_lesson), methods=["POST"]),
        Route("/api/lessons/{lesson_id:int}", guarded(api.update_lesson), methods=["POST"]),
        Route("/api/queue", guarded(api.queue), methods=["GET"]),
        *([Route("/api/runs", guarded(_runs_endpoint(runs)), methods=["GET"])] if runs else []),
        *extra_routes,
    ]
    return Starlette(routes=routes)


def _runs_endpoint(runs: EffortView) -> Endpoint:
    async def listed(request: Request) -> Response:
        """/api/runs?limit=N: today's totals and the newest runs, with their effort."""
        try:
            limit = int(request.query_params.get("limit", "100"))
        except ValueError:
            return JSONResponse({"error": "limit must be an integer"}, status_code=400)
        return JSONResponse(await runs.runs(limit))
    return listed


class _Api:
    def __init__(self, lessons: LessonJournal, queue: QueueService) -> None:
        self._lessons = lessons
        self._queue = queue

    async def list_lessons(self, request: Request) -> Response:
        if not self._lessons.enabled:
            return JSONResponse(OFF)
        query = parse_filter(dict(request.query_params), max_limit=API_MAX_LIMIT)
        if isinstance(query, str):
            return _error(400, query)
        found = await self._lessons.get(query)
        return JSONResponse({"enabled": True, "count": len(found),
                             "lessons": [lesson_json(x) for x in found]})

    async def add_lesson(self, request: Request) -> Response:
        if not self._lessons.enabled:
            return JSONResponse(OFF)
        body = await _json_object(request)
        draft = parse_draft(body) if isinstance(body, dict) else body
        if isinstance(draft, str):
            return _error(400, draft)
        lesson_id = await self._lessons.record(draft)
        if lesson_id is None:
            return _error(503, "the journal could not record the lesson")
        return JSONResponse({"enabled": True, "id": lesson_id}, status_code=201)

    async def update_lesson(self, request: Request) -> Response:
        if not self._lessons.enabled:
            return JSONResponse(OFF)
        lesson_id = int(request.path_params["lesson_id"])
        body = await _json_object(request)
        change = parse_update(body) if isinstance(body, dict) else body
        version = body.get("version") if isinstance(body, dict) else None
        if isinstance(change, str):
            return _error(400, change)
        if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
            return _error(400, "version must be an integer")
        if await self._lessons.update(lesson_id, change, expected_version=version):
            return JSONResponse({"enabled": True,
                                 "lesson": _maybe(await self._lessons.find(lesson_id))})
        return await self._why_not_updated(lesson_id, version)

    async def _why_not_updated(self, lesson_id: int, version: int | None) -> Response:
        current = await self._lessons.find(lesson_id)
        if current is None:
            return _error(404, f"no lesson {lesson_id}")
        if version is not None and current.version != version:
            return _error(409, f"lesson {lesson_id} is at version {current.version}")
        return _error(503, "the journal could not update the lesson")

    async def queue(self, request: Request) -> Response:
        summary = await self._queue.summary(fresh=_wants_fresh(request))
        headers = {"X-Orch-Cache": summary.status, "X-Orch-Revision": summary.revision}
        body = {**queue_json(summary.view), "cache": summary.status,
                "as_of": utc_iso(summary.as_of)}
        return JSONResponse(body, headers=headers)


def _wants_fresh(request: Request) -> bool:
    """`?refresh=true` or `Cache-Control: no-cache` forces a rebuild."""
    refresh = request.query_params.get("refresh", "").lower() in ("1", "true", "yes")
    directives = request.headers.get("cache-control", "").lower().replace(" ", "").split(",")
    return refresh or "no-cache" in directives


async def _healthz(request: Request) -> Response:
    return JSONResponse({"ok": True})


def _bearer_matches(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode())


async def _json_object(request: Request) -> dict[str, Any] | str:
    try:
        body = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        return "the body must be a JSON object"
    return body if isinstance(body, dict) else "the body must be a JSON object"


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


def lesson_json(lesson: Lesson) -> dict[str, Any]:
    """A lesson as plain JSON values."""
    return _jsonable(asdict(lesson))  # type: ignore[no-any-return]


def _maybe(lesson: Lesson | None) -> dict[str, Any] | None:
    return lesson_json(lesson) if lesson else None


def queue_json(view: QueueView) -> dict[str, Any]:
    """The /queue snapshot as plain JSON values."""
    return {
        "generated_at": utc_iso(view.generated_at),
        "active": view.active_count,
        "blocked": view.blocked_count,
        "stages": [{"stage": line.stage, "count": line.count,
                    "tasks": [_entry(e, view.generated_at) for e in line.entries]}
                   for line in view.stages],
        "blocks": [{"title": b.title, "lines": list(b.lines), "data": _jsonable(b.data)}
                   for b in view.blocks],
    }


def _entry(entry: QueueEntry, now: datetime) -> dict[str, Any]:
    return {"key": entry.key, "title": entry.title, "stage": entry.stage,
            "age_s": int(entry.age_at(now).total_seconds()), "why": entry.why}


def _jsonable(value: object) -> object:
    # Blocks come from other features; anything JSON cannot hold becomes text.
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
