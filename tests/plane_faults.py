"""A small HTTP stand-in in front of the Plane emulator, on 127.0.0.1, that injects the
faults a real Plane (or a key that lost access) produces: a 404 on one item, an empty
listing, 401/403, a long Retry-After, a listing whose cursor repeats, a runaway page.
Every request it does not fault is forwarded to the emulator unchanged."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.plane.server import serve

NOT_FOUND = {"error": "The requested resource does not exist."}
_ITEM = re.compile(r"/work-items/([0-9a-f-]{36})/$")
_LISTING = re.compile(r"/projects/[^/]+/work-items/$")


@dataclass
class Faults:
    """What to break; change it between ticks. `seen` counts requests by kind."""

    missing_items: set[str] = field(default_factory=set)  # item ids answering 404
    empty_listing: bool = False
    auth_status: int | None = None  # 401 or 403 on every request
    retry_after: int | None = None  # 429 with this Retry-After on every request
    repeat_cursor: bool = False  # the listing never ends: the same cursor every page
    huge_page: int | None = None  # the listing answers this many items in one page
    hang_relations_after: int | None = None  # later relation reads hang until released
    released: asyncio.Event = field(default_factory=asyncio.Event)
    seen: Counter[str] = field(default_factory=Counter)
    faulted: int = 0


class FaultProxy:
    """The ASGI stand-in; `url` is what a PlaneClient is pointed at."""

    def __init__(self, upstream: str, faults: Faults) -> None:
        self._upstream = httpx.AsyncClient(base_url=upstream)
        self.faults = faults
        self.app = Starlette(routes=[Route("/{path:path}", self._handle,
                                           methods=["GET", "POST", "PATCH", "DELETE"])])

    async def aclose(self) -> None:
        await self._upstream.aclose()

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        kind = _kind(request.method, path)
        self.faults.seen[kind] += 1
        if (self.faults.hang_relations_after is not None and path.endswith("/relations/")
                and self.faults.seen[kind] > self.faults.hang_relations_after):
            await self.faults.released.wait()  # a request that never gets its answer
            return JSONResponse({"error": "gone"}, 503)
        faulted = self._fault(request, path)
        if faulted is not None:
            self.faults.faulted += 1
            return faulted
        reply = await self._upstream.request(
            request.method, path, params=request.query_params.multi_items(),
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            content=await request.body())
        if kind == "listing" and self.faults.empty_listing:
            return _json(_envelope([], 0, "1000:1:0", False), reply.headers)
        if kind == "listing" and self.faults.repeat_cursor:
            body = reply.json()
            body.update(next_cursor="1000:1:0", next_page_results=True)
            return _json(body, reply.headers)
        return Response(reply.content, reply.status_code, headers=_passed(reply.headers))

    def _fault(self, request: Request, path: str) -> Response | None:
        f = self.faults
        if f.auth_status is not None:
            return JSONResponse({"detail": "Given API token is not valid"}, f.auth_status)
        if f.retry_after is not None:
            return JSONResponse({"error_code": 5900, "error_message": "RATE_LIMIT_EXCEEDED"},
                                429, headers={"Retry-After": str(f.retry_after)})
        match = _ITEM.search(path)
        if request.method == "GET" and match and match.group(1) in f.missing_items:
            return JSONResponse(NOT_FOUND, 404, headers={"X-RateLimit-Remaining": "50"})
        if f.huge_page and request.method == "GET" and _LISTING.search(path):
            rows = [_row(n, request) for n in range(f.huge_page)]
            return JSONResponse(_envelope(rows, len(rows), "1000:1:0", False))
        return None


@asynccontextmanager
async def fault_proxy(upstream: str, faults: Faults) -> AsyncIterator[str]:
    proxy = FaultProxy(upstream, faults)
    try:
        async with serve(proxy.app) as url:
            yield url
    finally:
        await proxy.aclose()


def _kind(method: str, path: str) -> str:
    if method != "GET":
        return f"{method} {path.rstrip('/').rsplit('/', 1)[-1]}"
    if _LISTING.search(path):
        return "listing"
    if _ITEM.search(path):
        return "item"
    return "GET " + path.rstrip("/").rsplit("/", 1)[-1]


def _envelope(rows: list[dict[str, Any]], total: int, cursor: str, more: bool,
              ) -> dict[str, Any]:
    return {"grouped_by": None, "sub_grouped_by": None, "total_count": total,
            "next_cursor": cursor, "prev_cursor": "1000:-1:1", "next_page_results": more,
            "prev_page_results": False, "count": len(rows), "total_pages": 1,
            "total_results": total, "extra_stats": None, "results": rows}


def _row(n: int, request: Request) -> dict[str, Any]:
    project = request.url.path.split("/projects/")[1].split("/")[0]
    return {"id": f"00000000-0000-4000-8000-{n:012d}", "project": project, "sequence_id": n + 1,
            "name": f"flood {n}", "state": "00000000-0000-4000-8000-000000000000",
            "updated_at": "2026-11-21T08:00:00Z", "priority": "none", "description_html": ""}


def _passed(headers: httpx.Headers) -> dict[str, str]:
    drop = {"content-length", "transfer-encoding", "connection", "content-encoding"}
    return {k: v for k, v in headers.items() if k.lower() not in drop}


def _json(body: dict[str, Any], headers: httpx.Headers) -> Response:
    return JSONResponse(body, headers={k: v for k, v in _passed(headers).items()
                                       if k.lower() != "content-type"})
