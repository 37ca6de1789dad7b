"""The emulator's HTTP face: Gitea's /api/v1 paths, status codes and bodies, on Starlette."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.gitea.emulator import VERSION, GiteaEmulator
from sandbox.gitea.records import Refusal, Repo, User, worst

View = Callable[[Request, User, Repo], Awaitable[Response]]


def build_app(emu: GiteaEmulator) -> Starlette:
    views = _Views(emu)
    repo = "/api/v1/repos/{owner}/{name}"
    routes = [
        Route("/api/v1/version", views.version, methods=["GET"]),
        Route("/api/v1/user", views.me, methods=["GET"]),
        Route(repo, views.guard(views.repository), methods=["GET"]),
        Route(f"{repo}/pulls", views.guard(views.pulls), methods=["GET", "POST"]),
        Route(f"{repo}/pulls/{{number:int}}", views.guard(views.pull), methods=["GET"]),
        Route(f"{repo}/pulls/{{number:int}}/merge", views.guard(views.merge),
              methods=["GET", "POST"]),
        Route(f"{repo}/statuses/{{sha}}", views.guard(views.status), methods=["POST"]),
        Route(f"{repo}/commits/{{ref:path}}/status", views.guard(views.combined),
              methods=["GET"]),
        Route(f"{repo}/commits/{{ref:path}}/statuses", views.guard(views.statuses),
              methods=["GET"]),
        Route(f"{repo}/branches/{{branch:path}}", views.guard(views.branch), methods=["GET"]),
    ]
    return Starlette(routes=routes)


class _Views:
    def __init__(self, emu: GiteaEmulator) -> None:
        self.emu = emu

    def guard(self, view: View) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            try:
                user = self.emu.user(request.headers.get("authorization", ""))
                repo = self.emu.repo(
                    f"{request.path_params['owner']}/{request.path_params['name']}")
                await self.emu.sync(repo)
                response = await view(request, user, repo)
            except Refusal as refusal:
                response = _refused(refusal)
            if self.emu.hooks.pending:
                response.background = BackgroundTask(self.emu.hooks.deliver)
            return response
        return guarded

    async def version(self, request: Request) -> Response:
        return JSONResponse({"version": VERSION})

    async def me(self, request: Request) -> Response:
        try:
            return JSONResponse(self.emu.user(request.headers.get("authorization", "")).json())
        except Refusal as refusal:
            return _refused(refusal)

    async def repository(self, request: Request, user: User, repo: Repo) -> Response:
        return JSONResponse(repo.json(self.emu.base_url))

    async def pulls(self, request: Request, user: User, repo: Repo) -> Response:
        if request.method == "POST":
            pull = await self.emu.create_pull(repo, user, await _body(request))
            return JSONResponse(pull.json(repo, self.emu.base_url), 201)
        state = request.query_params.get("state", "open")
        page = max(1, int(request.query_params.get("page", "1")))
        limit = min(50, max(1, int(request.query_params.get("limit", "30"))))
        found = self.emu.listing(repo, state)
        window = found[(page - 1) * limit: page * limit]
        headers = {"X-Total-Count": str(len(found))}
        if page * limit < len(found):
            url = request.url.include_query_params(page=page + 1, limit=limit, state=state)
            headers["Link"] = f'<{url}>; rel="next"'
        body = [p.json(repo, self.emu.base_url) for p in window]
        return JSONResponse(body, headers=headers)

    async def pull(self, request: Request, user: User, repo: Repo) -> Response:
        pull = self.emu.read(self.emu.pull(repo, request.path_params["number"]))
        return JSONResponse(pull.json(repo, self.emu.base_url))

    async def merge(self, request: Request, user: User, repo: Repo) -> Response:
        number = request.path_params["number"]
        if request.method == "GET":
            if self.emu.pull(repo, number).merged:
                return Response(status_code=204)
            raise Refusal(404, "The target couldn't be found.")
        self.emu.merge_requests += 1
        await self.emu.merge(repo, user, number, await _body(request))
        return Response(status_code=200)

    async def status(self, request: Request, user: User, repo: Repo) -> Response:
        status = self.emu.add_status(repo, request.path_params["sha"], await _body(request))
        return JSONResponse(status.json(repo, self.emu.base_url), 201)

    async def combined(self, request: Request, user: User, repo: Repo) -> Response:
        sha = await self.emu.resolve(repo, request.path_params["ref"])
        latest = repo.latest_statuses(sha)
        body = {"state": worst([s.state for s in latest]), "sha": sha,
                "total_count": len(latest),
                "statuses": [s.json(repo, self.emu.base_url) for s in latest],
                "repository": repo.json(self.emu.base_url), "commit_url": "", "url": ""}
        return JSONResponse(body, headers={"X-Total-Count": str(len(latest))})

    async def statuses(self, request: Request, user: User, repo: Repo) -> Response:
        sha = await self.emu.resolve(repo, request.path_params["ref"])
        every = [s.json(repo, self.emu.base_url) for s in repo.statuses if s.sha == sha]
        return JSONResponse(every, headers={"X-Total-Count": str(len(every))})

    async def branch(self, request: Request, user: User, repo: Repo) -> Response:
        name = request.path_params["branch"]
        sha = await repo.bare.rev(f"refs/heads/{name}")
        if sha is None:
            raise Refusal(404, "The target couldn't be found.")
        return JSONResponse({"name": name, "commit": {"id": sha},
                             "protected": name in repo.protected})


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise Refusal(422, "invalid JSON body") from exc
    if not isinstance(data, dict):
        raise Refusal(422, "a JSON object is expected")
    return data


def _refused(refusal: Refusal) -> Response:
    if refusal.raw is not None:
        return Response(refusal.raw, refusal.status, media_type="application/json")
    return JSONResponse({"message": refusal.message, "url": "/api/swagger"}, refusal.status)
