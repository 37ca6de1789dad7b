"""The retry habit both HTTP boundaries share: the backoff's bounds, the count of one
request's attempts, giving up with the boundary's own error, sleeping on the Clock."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from core.clock import ManualClock
from core.errors import ForgeUnavailable, TrackerUnavailable
from core.integrations.forge.http import GiteaHttp
from core.integrations.http_retry import Attempts, Backoff, Retrier, RetryingHttp, RetryStats
from core.integrations.plane.http import HttpRetryPolicy, PlaneHttp
from core.ratebudget import RateBudget
from tests.plane_support import JumpClock

log = logging.getLogger("orch.test_http_retry")
SECRET = "tok-SECRET-42"


class Gone(Exception):
    """The caller's own "unavailable" error."""


class Broken(Exception):
    """The caller's own error for a failure that will not pass."""


def retrier(clock: ManualClock, backoff: Backoff | None = None) -> tuple[Retrier, RetryStats]:
    counters = RetryStats()
    made = Retrier(backoff or Backoff(max_attempts=3, base_delay_s=1.0), counters,
                   clock=clock, rng=random.Random(3), speaker="box", log=log, unavailable=Gone)
    return made, counters


@pytest.mark.parametrize("seed", [0, 1, 99])
def test_each_delay_lies_in_the_upper_half_of_a_doubling_capped_ceiling(seed: int) -> None:
    backoff, rng = Backoff(max_attempts=9, base_delay_s=0.5, max_delay_s=5.0), random.Random(seed)
    ceilings = [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0, 5.0]

    delays = [backoff.delay(attempt, rng) for attempt in range(1, 9)]

    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    again = random.Random(seed)
    assert delays == [backoff.delay(attempt, again) for attempt in range(1, 9)]


def test_the_jitter_spreads_clients_that_fail_together() -> None:
    backoff = Backoff()
    firsts = {backoff.delay(2, random.Random(seed)) for seed in range(50)}

    assert len(firsts) == 50 and min(firsts) >= 0.5 and max(firsts) <= 1.0


def test_the_plane_policy_is_a_backoff_with_its_own_ceiling_and_429_bounds() -> None:
    policy = HttpRetryPolicy(max_attempts=2)

    assert isinstance(policy, Backoff)
    assert (policy.max_attempts, policy.base_delay_s, policy.max_delay_s) == (2, 0.5, 30.0)
    assert (policy.max_rate_limit_waits, policy.max_retry_after_s) == (3, 120.0)
    assert Backoff().max_delay_s == 20.0  # the forge's ceiling, unchanged
    late = [policy.delay(9, random.Random(seed)) for seed in range(20)]
    assert all(15.0 <= d <= 30.0 for d in late) and max(late) > 20.0


async def test_after_the_last_attempt_the_callers_error_is_raised_from_the_cause() -> None:
    clock = JumpClock()
    made, counters = retrier(clock)
    attempts = made.attempts("GET things/")
    causes = [ConnectionError(f"refused {n}") for n in range(3)]

    with pytest.raises(Gone) as caught:
        for cause in causes:
            attempts.start()
            await attempts.failed(f"down {cause}", cause)

    assert str(caught.value) == "box GET things/ failed 3 times; last: down refused 2"
    assert caught.value.__cause__ is causes[2]
    assert (counters.calls, counters.retries) == (3, 2)
    assert counters.last_error == "GET things/: down refused 2"
    assert len(clock.slept) == 2 and 0.5 <= clock.slept[0] <= 1.0 <= clock.slept[1] <= 2.0


async def test_a_failure_without_a_cause_chains_nothing_and_one_attempt_may_be_all() -> None:
    made, counters = retrier(JumpClock(), Backoff(max_attempts=1))
    attempts = made.attempts("POST x")
    attempts.start()

    with pytest.raises(Gone, match=r"^box POST x failed 1 times; last: 503 busy$") as caught:
        await attempts.failed("503 busy")

    assert caught.value.__cause__ is None and counters.retries == 0


async def test_the_wait_goes_through_the_clock_and_ends_when_it_moves() -> None:
    clock = ManualClock()
    made, counters = retrier(clock, Backoff(max_attempts=4, base_delay_s=8.0))
    attempts = made.attempts("GET slow")
    attempts.start()
    expected = Backoff(base_delay_s=8.0).delay(1, random.Random(3))

    waiting = asyncio.create_task(attempts.failed("502 bad gateway"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiting.done() and counters.retries == 1
    clock.advance(expected - 0.01)
    await asyncio.sleep(0)
    assert not waiting.done()
    clock.advance(0.02)
    await asyncio.wait_for(waiting, 1.0)


async def test_each_retry_is_one_warning_with_the_speakers_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    made, _ = retrier(JumpClock())
    attempts = made.attempts("GET a/b")
    caplog.set_level(logging.WARNING, logger=log.name)
    for _ in range(2):
        attempts.start()
        await attempts.failed("500 oops")

    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("box GET a/b failed (500 oops); retry 1 in ")
    assert lines[1].startswith("box GET a/b failed (500 oops); retry 2 in ")


async def test_every_request_counts_its_own_attempts() -> None:
    made, counters = retrier(JumpClock())
    first, second = made.attempts("GET 1"), made.attempts("GET 2")
    for _ in range(2):
        first.start()
        await first.failed("500")
    second.start()

    assert (first.number, second.number, counters.calls) == (2, 1, 3)


class Probe(RetryingHttp[int]):
    """The smallest boundary: answers its status, retries a 503, holds the token."""

    def __init__(self, transport: httpx.MockTransport, clock: ManualClock) -> None:
        self.stats = RetryStats()
        client = httpx.AsyncClient(base_url="http://probe.test/", transport=transport,
                                   headers={"Authorization": f"token {SECRET}"})
        super().__init__(client, "http://probe.test", Retrier(
            Backoff(max_attempts=3), self.stats, clock=clock, rng=random.Random(1),
            speaker="probe", log=log, unavailable=Gone))

    async def _waited_out(self, attempts: Attempts, response: httpx.Response) -> bool:
        if response.status_code == 503:
            await attempts.failed("503")
            return True
        return False

    def _answer(self, what: str, response: httpx.Response, accept: tuple[int, ...]) -> int:
        return response.status_code

    def _broken(self, what: str, exc: Exception) -> Exception:
        return Broken(f"probe {what}: {type(exc).__name__}")


async def test_the_loop_retries_passing_failures_and_answers_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script: list[int | Exception] = [httpx.ConnectError("refused"), 503, 404]

    def serve(request: httpx.Request) -> httpx.Response:
        step = script.pop(0)
        if isinstance(step, Exception):
            raise step
        return httpx.Response(step)

    caplog.set_level(logging.DEBUG)
    clock = JumpClock()
    probe = Probe(httpx.MockTransport(serve), clock)
    try:
        assert await probe.send("GET", "x") == 404
    finally:
        await probe.aclose()

    assert (probe.stats.calls, probe.stats.retries, len(clock.slept)) == (3, 2, 2)
    assert "ConnectError" in caplog.text
    for text in (repr(probe), caplog.text, str(probe.stats)):
        assert SECRET not in text


async def test_a_failure_that_stays_is_not_retried_and_says_so_in_the_callers_words() -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        raise httpx.TooManyRedirects("round and round", request=request)

    probe = Probe(httpx.MockTransport(serve), JumpClock())
    try:
        with pytest.raises(Broken, match=r"^probe GET x: TooManyRedirects$") as caught:
            await probe.send("GET", "x")
    finally:
        await probe.aclose()

    assert isinstance(caught.value.__cause__, httpx.TooManyRedirects)
    assert (probe.stats.calls, probe.stats.retries) == (1, 0)


def gitea(transport: httpx.MockTransport, clock: JumpClock) -> RetryingHttp[Any]:
    return GiteaHttp("http://g.test", SECRET, clock=clock, transport=transport)


def plane(transport: httpx.MockTransport, clock: JumpClock) -> RetryingHttp[Any]:
    return PlaneHttp("http://p.test", SECRET, "ws", clock=clock,
                     budget=RateBudget(clock, 1000), transport=transport)


@pytest.mark.parametrize(("make", "error", "logger", "first", "last"), [
    (gitea, ForgeUnavailable, "orch.forge", "forge GET things failed (ConnectError); retry 1",
     "forge GET things failed 4 times; last: 502 bad gateway"),
    (plane, TrackerUnavailable, "orch.plane",
     "Plane GET things failed (ConnectError: refused); retry 1",
     "Plane GET things failed 4 times; last: 502 bad gateway"),
])
async def test_each_boundary_keeps_its_own_words_and_error(
    make: Callable[[httpx.MockTransport, JumpClock], RetryingHttp[Any]],
    error: type[Exception], logger: str, first: str, last: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def serve(request: httpx.Request) -> httpx.Response:
        if not seen:
            seen.append(request)
            raise httpx.ConnectError("refused")
        return httpx.Response(502, json={"message": "bad gateway"})

    seen: list[httpx.Request] = []
    caplog.set_level(logging.DEBUG)
    http = make(httpx.MockTransport(serve), JumpClock())
    try:
        with pytest.raises(error, match=f"^{last}$"):
            await http.send("GET", "things")
    finally:
        await http.aclose()

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.name for r in warnings] == [logger] * 3
    assert warnings[0].getMessage().startswith(f"{first} in ")
    assert SECRET not in caplog.text
