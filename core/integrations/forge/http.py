"""The HTTP boundary to a Gitea/Forgejo server: retries, backoff and error translation.

Every request goes through `GiteaHttp.send` (the loop of core/integrations/http_retry.py):
5xx, 429 and transport failures are retried with exponential backoff and jitter (a 500
under load is "try again", not an answer), everything else is returned or raised as a
ForgeError. `httpx` never escapes
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
from core.integrations.http_retry import Attempts, Backoff, Retrier, RetryingHttp, RetryStats

log = logging.getLogger("orch.forge")

_BY_STATUS: dict[int, type[ForgeRejected]] = {
    404: ForgeNotFound,
    405: MergeRefused,
    409: MergeConflict,
}


@dataclass(frozen=True, slots=True)
class Answer:
    """A decoded 2xx (or accepted) answer: status, JSON body (None when empty), headers."""

    status: int
    body: Any
    headers: dict[str, str]

    def next_page(self) -> bool:
        """True when the Link header names a next page."""
        return 'rel="next"' in self.headers.get("link", "")


class GiteaHttp(RetryingHttp[Answer]):
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
        where = url.rstrip("/")
        self.stats = RetryStats()
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"token {token}"
        client = httpx.AsyncClient(base_url=f"{where}/api/v1/", headers=headers,
                                   timeout=timeout_s, transport=transport)
        super().__init__(client, where, Retrier(
            backoff or Backoff(), self.stats, clock=clock, rng=rng or random.Random(),
            speaker="forge", log=log, unavailable=ForgeUnavailable))

    async def _waited_out(self, attempts: Attempts, response: httpx.Response) -> bool:
        status = response.status_code
        if status == 429 or status >= 500:  # a 429 here is one more passing failure
            await attempts.failed(f"{status} {server_message(response)}")
            return True
        return False

    def _broken(self, what: str, exc: Exception) -> Exception:
        return ForgeError(f"forge {what}: {type(exc).__name__}")

    def _answer(self, what: str, response: httpx.Response, accept: tuple[int, ...]) -> Answer:
        """2xx and `accept` return, other answers raise ForgeError."""
        status = response.status_code
        headers = {k.lower(): v for k, v in response.headers.items()}
        if 200 <= status < 300 or status in accept:
            return Answer(status, decode(what, response), headers)
        message = f"forge refused {what} ({status}): {server_message(response)}"
        self.stats.last_error = message
        raise _BY_STATUS.get(status, ForgeRejected)(message, status)


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
