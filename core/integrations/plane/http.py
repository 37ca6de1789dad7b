"""The HTTP boundary to Plane: one place that spends the budget, retries and translates.

Every request goes through `PlaneHttp.send`: it takes one unit of the shared RateBudget
per attempt, waits out a 429 for its Retry-After, retries 5xx and transport failures
with exponential backoff and jitter, and turns everything else into a TrackerError.
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
from core.ratebudget import RateBudget

log = logging.getLogger("orch.plane")

DEFAULT_RETRY_AFTER_S = 60.0  # Plane's window; used when a 429 names no usable delay


@dataclass(frozen=True, slots=True)
class HttpRetryPolicy:
    """How hard to try: attempts for failures, waits for 429s, and their bounds."""

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_rate_limit_waits: int = 3
    max_retry_after_s: float = 120.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay before attempt `attempt + 1`: doubling, capped, half of it random so
        that clients failing together do not retry together."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(slots=True)
class PlaneStats:
    """Counters for /status and `orch doctor`."""

    calls: int = 0  # HTTP attempts sent, retries included
    retries: int = 0  # attempts repeated after a 5xx or a transport failure
    rate_limit_waits: int = 0  # 429s waited out
    rate_limited: int = 0  # 429s received, waited out or not
    last_error: str | None = None
    server_remaining: int | None = None  # X-RateLimit-Remaining on the last answer


@dataclass(frozen=True, slots=True)
class Reply:
    """A decoded answer: the status and the JSON body (None when empty)."""

    status: int
    body: Any


class PlaneHttp:
    """Requests relative to `{api_url}/api/v1/workspaces/{workspace}/`."""

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
        self._where = f"{api_url.rstrip('/')} workspace {workspace}"
        # for the few paths outside the workspace (users/me/): an absolute URL to `send`
        self.api_root = f"{api_url.rstrip('/')}/api/v1/"
        self._clock = clock
        self._budget = budget
        self._policy = policy or HttpRetryPolicy()
        self._rng = rng or random.Random()
        self.stats = PlaneStats()
        self._client = httpx.AsyncClient(
            base_url=f"{api_url.rstrip('/')}/api/v1/workspaces/{workspace}/",
            headers={"X-API-Key": api_key, "Accept": "application/json"},
            timeout=timeout_s,
            transport=transport,
            # Plane drops idle keep-alive connections after ~2 s; expire ours sooner.
            limits=httpx.Limits(keepalive_expiry=1.0),
        )

    def __repr__(self) -> str:
        return f"PlaneHttp({self._where})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        accept: tuple[int, ...] = (),
    ) -> Reply:
        """Send until answered: 2xx and statuses in `accept` return, the rest raise.

        Every request orch makes is safe to repeat (PATCH of a state, comments carry an
        external id, relations do not duplicate), so failures are retried whatever the
        method."""
        what = f"{method} {path}"
        attempt = rate_waits = 0
        while True:
            attempt += 1
            if (left := self._budget.pause_left()) > self._policy.max_retry_after_s:
                raise TrackerRateLimited(f"Plane asked orch to wait; {left:.0f}s left", left)
            await self._budget.acquire()
            self.stats.calls += 1
            try:
                response = await self._client.request(method, path, params=params, json=json)
            except httpx.TransportError as exc:
                await self._retry_or_raise(what, attempt, _transport_message(exc), exc)
                continue
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise self._failed(TrackerError(f"Plane {what}: {type(exc).__name__}")) from exc
            status = response.status_code
            if status == 429:
                rate_waits += 1
                await self._wait_out_rate_limit(what, response, rate_waits)
                continue
            if status >= 500:
                message = f"{status} {_server_message(response)}"
                await self._retry_or_raise(what, attempt, message, None)
                continue
            return self._answer(what, response, accept)

    def _answer(self, what: str, response: httpx.Response, accept: tuple[int, ...]) -> Reply:
        self._note_remaining(response)
        status = response.status_code
        if 200 <= status < 300 or status in accept:
            return Reply(status, _decode(what, response))
        message = f"Plane refused {what} ({status}): {_server_message(response)}"
        if 400 <= status < 500:
            raise self._failed(TrackerRejected(message, status))
        raise self._failed(TrackerError(f"Plane answered {what} with an unexpected {status}"))

    async def _retry_or_raise(
        self, what: str, attempt: int, message: str, cause: BaseException | None
    ) -> None:
        self.stats.last_error = f"{what}: {message}"
        if attempt >= self._policy.max_attempts:
            error = TrackerUnavailable(f"Plane {what} failed {attempt} times; last: {message}")
            raise error from cause
        delay = self._policy.backoff(attempt, self._rng)
        log.warning("Plane %s failed (%s); retry %d in %.1fs", what, message, attempt, delay)
        self.stats.retries += 1
        await self._clock.sleep(delay)

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


def _transport_message(exc: httpx.TransportError) -> str:
    detail = str(exc).strip()
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


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
