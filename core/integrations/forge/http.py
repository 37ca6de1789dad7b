"""The HTTP boundary to a Gitea/Forgejo server: retries, backoff and error translation.

Every request goes through `GiteaHttp.send`: 5xx, 429 and transport failures are
retried with exponential backoff and jitter (a 500 under load is "try again", not an
answer), everything else is returned or raised as a ForgeError. `httpx` never escapes
this package, and the token lives only in the client's headers: no log line, message or
repr carries it.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from typing import Any

import httpx

from core.clock import Clock
from core.errors import (
    ForgeError,
    ForgeNotFound,
    ForgeRejected,
    ForgeUnavailable,
    MergeConflict,
    MergeRefused,
)

log = logging.getLogger("orch.forge")

_BY_STATUS: dict[int, type[ForgeRejected]] = {
    404: ForgeNotFound,
    405: MergeRefused,
    409: MergeConflict,
}


@dataclass(frozen=True, slots=True)
class Backoff:
    """How hard to try a request that failed for a passing reason."""

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


@dataclass(frozen=True, slots=True)
class Answer:
    """A decoded 2xx (or accepted) answer: status, JSON body (None when empty), headers."""

    status: int
    body: Any
    headers: dict[str, str]

    def next_page(self) -> bool:
        """True when the Link header names a next page."""
        return 'rel="next"' in self.headers.get("link", "")


@dataclass(slots=True)
class ForgeStats:
    calls: int = 0
    retries: int = 0
    last_error: str | None = None


class GiteaHttp:
    """Requests relative to `{url}/api/v1/`, authorised with `Authorization: token …`."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        clock: Clock,
        backoff: Backoff | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 15.0,
        rng: random.Random | None = None,
    ) -> None:
        self._where = url.rstrip("/")
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._rng = rng or random.Random()
        self.stats = ForgeStats()
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"token {token}"
        self._client = httpx.AsyncClient(
            base_url=f"{self._where}/api/v1/", headers=headers, timeout=timeout_s,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"GiteaHttp({self._where})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        accept: tuple[int, ...] = (),
    ) -> Answer:
        """Send until answered: 2xx and `accept` return, other answers raise ForgeError."""
        what = f"{method} {path}"
        attempt = 0
        while True:
            attempt += 1
            self.stats.calls += 1
            try:
                response = await self._client.request(method, path, params=params, json=json_body)
            except httpx.TransportError as exc:
                await self._retry_or_raise(what, attempt, type(exc).__name__, exc)
                continue
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise ForgeError(f"forge {what}: {type(exc).__name__}") from exc
            status = response.status_code
            if status == 429 or status >= 500:
                await self._retry_or_raise(what, attempt, f"{status} {server_message(response)}",
                                           None)
                continue
            return self._answer(what, response, accept)

    def _answer(self, what: str, response: httpx.Response, accept: tuple[int, ...]) -> Answer:
        status = response.status_code
        headers = {k.lower(): v for k, v in response.headers.items()}
        if 200 <= status < 300 or status in accept:
            return Answer(status, decode(what, response), headers)
        message = f"forge refused {what} ({status}): {server_message(response)}"
        self.stats.last_error = message
        raise _BY_STATUS.get(status, ForgeRejected)(message, status)

    async def _retry_or_raise(self, what: str, attempt: int, message: str,
                              cause: BaseException | None) -> None:
        self.stats.last_error = f"{what}: {message}"
        if attempt >= self._backoff.max_attempts:
            raise ForgeUnavailable(f"forge {what} failed {attempt} times; last: {message}") \
                from cause
        delay = self._backoff.delay(attempt, self._rng)
        log.warning("forge %s failed (%s); retry %d in %.1fs", what, message, attempt, delay)
        self.stats.retries += 1
        await self._clock.sleep(delay)


def decode(what: str, response: httpx.Response) -> Any:
    """The JSON body; None for 204 and empty bodies (a merge answers 200 with nothing)."""
    if response.status_code == 204 or not response.content.strip():
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise ForgeError(f"forge answered {what} with a body that is not JSON",
                         response.status_code) from exc


def server_message(response: httpx.Response) -> str:
    """The server's `message`, also from a conflict answer that is two JSON documents."""
    text = response.text.strip()
    for line in reversed(text.splitlines() or [""]):
        try:
            body = json.loads(line)
        except ValueError:
            continue
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return str(body["message"]).strip()[:500]
    try:
        body = response.json()
    except ValueError:
        return text[:200] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"]).strip()[:500]
    return text[:200] or response.reason_phrase
