"""/healthz and /readyz: is the loop alive, and can orch do its job right now?

/healthz answers from the event loop itself, so an answer means the loop is alive.
/readyz runs every check and answers 200 {"ready": true, ...} or 503 naming each one
that fails, with what it saw:

- database: orch's own connection answers, and the file takes a write lock;
- telegram: the last Bot API call succeeded, or one did within `telegram_grace_s`;
- reconcile (only with a tracker): the last tick started within 3 intervals;
- outbox: nothing has waited to be sent for `outbox_stuck_s` without anything going out.

Other features add checks with `add(name, probe)`: a probe returns None when all is well,
else a short reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.telemetry import TelegramCalls
from core.clock import Clock, utc_iso
from core.sync.report import ReconcilerStats
from storage.database import Database
from storage.health import probe_writable

Probe = Callable[[], Awaitable[str | None]]
DB_TIMEOUT_S = 2.0


class Readiness:
    """The named checks behind /readyz."""

    def __init__(self) -> None:
        self._checks: dict[str, Probe] = {}

    def add(self, name: str, probe: Probe) -> None:
        self._checks[name] = probe

    async def report(self) -> tuple[bool, dict[str, object]]:
        results = await asyncio.gather(*(_safely(p) for p in self._checks.values()))
        checks = {name: {"ok": problem is None, **({"problem": problem} if problem else {})}
                  for name, problem in zip(self._checks, results, strict=True)}
        failing = [name for name, problem in zip(self._checks, results, strict=True)
                   if problem is not None]
        return not failing, {"ready": not failing, "failing": failing, "checks": checks}

    def routes(self) -> list[Route]:
        async def readyz(request: Request) -> Response:
            ready, body = await self.report()
            return JSONResponse(body, status_code=200 if ready else 503)

        return [Route("/readyz", readyz, methods=["GET"])]


async def _safely(probe: Probe) -> str | None:
    try:
        return await probe()
    except Exception as exc:  # a broken check is a failing check, never a 500
        return f"the check itself failed: {type(exc).__name__}"


def database_check(db: Database, timeout_s: float = DB_TIMEOUT_S) -> Probe:
    async def probe() -> str | None:
        try:
            await asyncio.wait_for(db.fetch_one("SELECT 1"), timeout_s)
        except TimeoutError:
            return f"orch's connection did not answer within {timeout_s:g} s"
        except Exception as exc:
            return f"orch's connection failed: {exc}"
        problem = await probe_writable(db.path, timeout_s)
        return f"cannot take a write lock: {problem}" if problem else None

    return probe


def telegram_check(calls: TelegramCalls, clock: Clock, grace_s: float) -> Probe:
    async def probe() -> str | None:
        if calls.last_call_ok is None:
            return "no Bot API call yet"
        if calls.last_call_ok:
            return None
        last_ok = calls.last_ok_at
        if last_ok is not None and (clock.now() - last_ok).total_seconds() <= grace_s:
            return None
        since = f"since {utc_iso(last_ok)}" if last_ok else "ever"
        return f"the last Bot API call failed ({calls.last_error}); none succeeded {since}"

    return probe


def reconcile_check(stats: Callable[[], ReconcilerStats], clock: Clock, interval_s: float,
                    started_at: datetime) -> Probe:
    async def probe() -> str | None:
        last = stats().last_tick
        since = last.started_at if last else started_at
        age = (clock.now() - since).total_seconds()
        if age <= 3 * interval_s:
            return None
        what = f"the last tick started {age:.0f} s ago" if last else f"no tick in {age:.0f} s"
        return f"{what}; ticks are due every {interval_s:g} s"

    return probe


@dataclass
class OutboxWatch:
    """Stuck: something has waited to be sent for `stuck_s` while nothing went out."""

    clock: Clock
    pending: Callable[[], int]
    delivered: Callable[[], int]
    stuck_s: float
    _since: datetime | None = field(default=None, init=False)
    _seen: int = field(default=-1, init=False)

    async def probe(self) -> str | None:
        now, waiting, delivered = self.clock.now(), self.pending(), self.delivered()
        if waiting == 0 or delivered != self._seen or self._since is None:
            self._since, self._seen = now, delivered
            return None
        stuck = (now - self._since).total_seconds()
        if stuck <= self.stuck_s:
            return None
        return f"{waiting} waiting, nothing sent for {stuck:.0f} s"
