"""Trying a request again after a passing failure: the part every HTTP boundary shares.

A 5xx or a dropped connection is "try again", not an answer. `Backoff` says how hard
to try; a `Retrier` is one boundary's habit of trying again: per request it counts the
attempts, remembers the last failure, logs each retry and sleeps through the Clock
(tests move a clock instead of waiting), and once the attempts are spent raises the
boundary's own "unavailable" error with the failure chained as its cause.
`RetryingHttp` is the loop both boundaries run on top of it: send until answered,
a transport failure being a passing one.

What differs stays with each boundary: which answers count as passing (the forge
retries a 429, Plane waits it out for its Retry-After), its exception types and its
words. Messages carry only what the caller passes in (method, path, the server's
message), never a header, so no token reaches a log line or an error.
"""

from __future__ import annotations

import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from core.clock import Clock

AnswerT = TypeVar("AnswerT")


@dataclass(frozen=True, slots=True)
class Backoff:
    """How hard to try a request that failed for a passing reason."""

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Delay before attempt `attempt + 1`: doubling, capped, half of it random so
        that clients failing together do not retry together."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


@dataclass(frozen=True, slots=True)
class Retrier:
    """One boundary's way of trying again; `speaker` starts its messages ("forge")."""

    backoff: Backoff
    counters: RetryStats
    clock: Clock
    rng: random.Random
    speaker: str
    log: logging.Logger
    unavailable: Callable[[str], Exception]

    def attempts(self, what: str) -> Attempts:
        """A fresh count for one request; `what` names it, e.g. "GET repos/o/r/pulls"."""
        return Attempts(self, what)


@dataclass(slots=True)
class RetryStats:
    """Counters for /status and `orch doctor`; a boundary may count more besides."""

    calls: int = 0  # HTTP attempts sent, retries included
    retries: int = 0  # attempts repeated after a passing failure
    last_error: str | None = None


class Attempts:
    """The tries of one request: `start()` before each, `failed()` after a passing one."""

    __slots__ = ("_retrier", "number", "waits", "what")

    def __init__(self, retrier: Retrier, what: str) -> None:
        self._retrier = retrier
        self.what = what
        self.number = 0
        self.waits = 0  # answers that named their own wait (a 429's Retry-After), waited out

    def start(self) -> None:
        """Count an attempt about to be sent."""
        self.number += 1
        self._retrier.counters.calls += 1

    async def failed(self, message: str, cause: BaseException | None = None) -> None:
        """Note a passing failure, then wait before the next attempt; once the attempts
        are spent raise the boundary's unavailable error instead, from `cause`."""
        retrier, attempt = self._retrier, self.number
        retrier.counters.last_error = f"{self.what}: {message}"
        if attempt >= retrier.backoff.max_attempts:
            failure = f"{retrier.speaker} {self.what} failed {attempt} times; last: {message}"
            raise retrier.unavailable(failure) from cause
        delay = retrier.backoff.delay(attempt, retrier.rng)
        retrier.log.warning("%s %s failed (%s); retry %d in %.1fs",
                            retrier.speaker, self.what, message, attempt, delay)
        retrier.counters.retries += 1
        await retrier.clock.sleep(delay)


class RetryingHttp(ABC, Generic[AnswerT]):
    """An httpx client at a boundary that sends until answered, through a Retrier.

    A subclass builds the client (the secret lives only in its headers; the repr names
    only `where`), says which answers are passing failures and what the others mean,
    and names its own errors. Failures are retried whatever the method, so every
    request sent through it must be safe to repeat."""

    def __init__(self, client: httpx.AsyncClient, where: str, retry: Retrier) -> None:
        self._client = client
        self._where = where
        self._retry = retry

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._where})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                   json_body: Any = None, accept: tuple[int, ...] = ()) -> AnswerT:
        """Send until answered: 2xx and statuses in `accept` return, the rest raise."""
        attempts = self._retry.attempts(f"{method} {path}")
        while True:
            await self._before_attempt()
            attempts.start()
            try:
                response = await self._client.request(method, path, params=params,
                                                      json=json_body)
            except httpx.TransportError as exc:
                await attempts.failed(self._transport_failure(exc), exc)
                continue
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # a malformed URL stays so
                raise self._broken(attempts.what, exc) from exc
            if not await self._waited_out(attempts, response):
                return self._answer(attempts.what, response, accept)

    async def _before_attempt(self) -> None:
        """Hold an attempt back (a shared rate budget, say); by default, nothing."""

    def _transport_failure(self, exc: httpx.TransportError) -> str:
        """How a transport failure reads in logs and errors: by default, its type."""
        return type(exc).__name__

    @abstractmethod
    async def _waited_out(self, attempts: Attempts, response: httpx.Response) -> bool:
        """True when `response` was a passing failure, now waited out: send again.
        Call `attempts.failed(...)` for one that spends an attempt."""

    @abstractmethod
    def _answer(self, what: str, response: httpx.Response, accept: tuple[int, ...]) -> AnswerT:
        """The decoded answer, or the boundary's error for a refusal."""

    @abstractmethod
    def _broken(self, what: str, exc: Exception) -> Exception:
        """The boundary's error for a request that failed for a reason that stays."""
