"""The HTTP boundary to Plane: one place that spends the budget, retries and translates.

Every request goes through `PlaneHttp.send` (the loop of core/integrations/http_retry.py):
it takes one unit of the shared RateBudget per attempt, waits out a 429 for its
Retry-After, retries 5xx and transport failures with exponential backoff and jitter,
and turns everything else into a TrackerError.
`httpx` never escapes this module. The API key lives only in the client's headers:
it is never logged, never put in a message and never shown by a repr.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

import httpx

from core.clock import Clock
from core.errors import TrackerError, TrackerRateLimited, TrackerRejected, TrackerUnavailable
from core.integrations.http_retry import Attempts, Backoff, Retrier, RetryingHttp, RetryStats
from core.ratebudget import RateBudget

log = logging.getLogger("orch.plane")

DEFAULT_RETRY_AFTER_S = 60.0  # Plane's window; used when a 429 names no usable delay


@dataclass(frozen=True, slots=True)
class HttpRetryPolicy(Backoff):
    """How hard to try: the Backoff for failures, plus waits for 429s and their bounds."""

    max_delay_s: float = 30.0
    max_rate_limit_waits: int = 3
    max_retry_after_s: float = 120.0


@dataclass(slots=True)
class PlaneStats(RetryStats):
    """Counters for /status and `orch doctor`: the shared ones, and Plane's 429s."""

    rate_limit_waits: int = 0  # 429s waited out
    rate_limited: int = 0  # 429s received, waited out or not
    server_remaining: int | None = None  # X-RateLimit-Remaining on the last answer


@dataclass(frozen=True, slots=True)
class Reply:
    """A decoded answer: the status and the JSON body (None when empty)."""

    status: int
    body: Any


class PlaneHttp(RetryingHttp[Reply]):
    """Requests relative to `{api_url}/api/v1/workspaces/{workspace}/`.

    Every request orch makes is safe to repeat (PATCH of a state, comments carry an
    external id, relations do not duplicate), so failures are retried whatever the
    method. Each attempt, a 429 waited out included, spends one unit of the budget
    and counts against `max_attempts`."""

    def __init__(
        self,
        api_url: str,
        api_key: str,
        workspace: str,
        *,
        clock: Clock,
        budget: RateBudget,
        policy: HttpRetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
        rng: random.Random | None = None,
    ) -> None:
        # for the few paths outside the workspace (users/me/): an absolute URL to `send`
        self.api_root = f"{api_url.rstrip('/')}/api/v1/"
        self._budget = budget
        self._policy = policy or HttpRetryPolicy()
        self.stats = PlaneStats()
        client = httpx.AsyncClient(
            base_url=f"{api_url.rstrip('/')}/api/v1/workspaces/{workspace}/",
            headers={"X-API-Key": api_key, "Accept": "application/json"},
            timeout=timeout_s,
            transport=transport,
            # Plane drops idle keep-alive connections after ~2 s; expire ours sooner.
            limits=httpx.Limits(keepalive_expiry=1.0),
        )
        super().__init__(client, f"{api_url.rstrip('/')} workspace {workspace}", Retrier(
            self._policy, self.stats, clock=clock, rng=rng or random.Random(),
            speaker="Plane", log=log, unavailable=TrackerUnavailable))

    async def _before_attempt(self) -> None:
        if (left := self._budget.pause_left()) > self._policy.max_retry_after_s:
            raise TrackerRateLimited(f"Plane asked orch to wait; {left:.0f}s left", left)
        await self._budget.acquire()

    async def _waited_out(self, attempts: Attempts, response: httpx.Response) -> bool:
        status = response.status_code
        if status == 429:
            attempts.waits += 1
            await self._wait_out_rate_limit(attempts.what, response, attempts.waits)
            return True
        if status >= 500:
            await attempts.failed(f"{status} {_server_message(response)}")
            return True
        return False

    def _transport_failure(self, exc: httpx.TransportError) -> str:
        detail = str(exc).strip()
        return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__

    def _broken(self, what: str, exc: Exception) -> Exception:
        return self._failed(TrackerError(f"Plane {what}: {type(exc).__name__}"))

    def _answer(self, what: str, response: httpx.Response, accept: tuple[int, ...]) -> Reply:
        self._note_remaining(response)
        status = response.status_code
        if 200 <= status < 300 or status in accept:
            return Reply(status, _decode(what, response))
        message = f"Plane refused {what} ({status}): {_server_message(response)}"
        if 400 <= status < 500:
            raise self._failed(TrackerRejected(message, status))
        raise self._failed(TrackerError(f"Plane answered {what} with an unexpected {status}"))

    async def _wait_out_rate_limit(self, what: str, response: httpx.Response, waits: int) -> None:
        retry_after = _retry_after(response)
        self.stats.last_error = f"{what}: 429 rate limited, retry after {retry_after:g}s"
        self.stats.rate_limited += 1
        self._budget.pause(retry_after)  # every call with this key waits, not just this one
        if waits > self._policy.max_rate_limit_waits or retry_after > (
            self._policy.max_retry_after_s
        ):
            message = f"Plane rate limit on {what}: retry after {retry_after:g}s"
            raise TrackerRateLimited(message, retry_after)
        log.info("Plane rate limit on %s: waiting %gs", what, retry_after)
        self.stats.rate_limit_waits += 1

    def _note_remaining(self, response: httpx.Response) -> None:
        raw = response.headers.get("X-RateLimit-Remaining")
        if raw is not None and raw.strip().isdigit():
            self.stats.server_remaining = int(raw)
            self._budget.observe(int(raw))

    def _failed(self, error: TrackerError) -> TrackerError:
        self.stats.last_error = str(error)
        return error


def _decode(what: str, response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        if response.status_code == 204:
            return None
        raise TrackerError(f"Plane answered {what} with an empty body")
    try:
        return response.json()
    except ValueError as exc:
        raise TrackerError(f"Plane answered {what} with a body that is not JSON") from exc


def _retry_after(response: httpx.Response) -> float:
    raw = response.headers.get("Retry-After", "")
    try:
        seconds = float(raw)
    except ValueError:
        return DEFAULT_RETRY_AFTER_S
    return seconds if seconds >= 0 else DEFAULT_RETRY_AFTER_S


def _server_message(response: httpx.Response) -> str:
    """The server's own words: DRF's `detail`, Plane's `error`, or the field errors."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("detail", "error", "error_message", "message"):
            if isinstance(detail := body.get(key), str):
                return detail
        return "; ".join(_field_error(key, value) for key, value in body.items()) or "no detail"
    return str(body)[:200]


def _field_error(key: str, value: Any) -> str:
    text = " ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return text if key == "non_field_errors" else f"{key}: {text}"
