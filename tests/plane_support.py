"""Test support for the Plane contract: recorded answers, a fake Plane serving them, and
a clock that jumps instead of sleeping. Shared by the unit and integration tiers."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from core.clock import ManualClock
from core.integrations.plane.client import PlaneClient
from core.integrations.plane.http import HttpRetryPolicy
from core.ratebudget import RateBudget

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "plane"
KEY = "plane_api_SECRET_0123456789abcdef"


class JumpClock(ManualClock):
    """A ManualClock whose sleep jumps time at once, remembering how long it slept."""

    def __init__(self) -> None:
        super().__init__()
        self.slept: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)


def recorded(name: str) -> httpx.Response:
    """A recorded answer: status line and headers from NAME.headers.txt, body NAME.json."""
    lines = (FIXTURES / f"{name}.headers.txt").read_text(encoding="utf-8").splitlines()
    status = int(lines[0].split()[1])
    pairs = [line.split(": ", 1) for line in lines[1:] if ": " in line]
    headers = [(k, v) for k, v in pairs if k.lower() != "content-length"]
    bodies = (FIXTURES / f"{name}.json", FIXTURES / f"{name}_body.json")
    body_file = next((p for p in bodies if p.exists()), None)
    content = body_file.read_bytes() if body_file else b""
    return httpx.Response(status, headers=headers, content=content)


class FakePlane:
    """Serves recorded answers by path pattern (a list is served in order, the last
    one repeating) and keeps the requests it saw."""

    def __init__(self, routes: Mapping[str, str | list[str]]) -> None:
        # who the key is and who the members are: read once by every client that names
        # the person behind a change (the recording's items were all changed by the key)
        people = {r"^/api/v1/users/me/$": "05d_users_me",
                  r"^members/$": "05b_workspace_members_list"}
        self.routes = {
            pattern: [names] if isinstance(names, str) else list(names)
            for pattern, names in {**people, **routes}.items()
        }
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/api/v1/workspaces/acme/")
        for pattern, names in self.routes.items():
            if re.search(pattern, path):
                return recorded(names.pop(0) if len(names) > 1 else names[0])
        raise AssertionError(f"unexpected request {request.method} {path}")

    def cursors(self) -> list[str | None]:
        return [r.url.params.get("cursor") for r in self.requests]


@dataclass
class Rig:
    """A PlaneClient wired to a FakePlane and a JumpClock."""

    client: PlaneClient
    plane: FakePlane
    clock: JumpClock


class Rigs:
    """Makes rigs and closes their clients (filterwarnings=error: nothing left open)."""

    def __init__(self) -> None:
        self._made: list[PlaneClient] = []

    def __call__(
        self, routes: Mapping[str, str | list[str]], policy: HttpRetryPolicy | None = None
    ) -> Rig:
        clock, plane = JumpClock(), FakePlane(routes)
        client = PlaneClient(
            "http://plane.test",
            KEY,
            "acme",
            clock=clock,
            budget=RateBudget(clock, 1000),
            policy=policy,
            transport=httpx.MockTransport(plane),
            rng=random.Random(7),
        )
        self._made.append(client)
        return Rig(client, plane, clock)

    async def aclose(self) -> None:
        for client in self._made:
            await client.aclose()
