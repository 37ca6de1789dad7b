"""The shared request budget: a sliding window that waits on the clock, never the wall."""

from __future__ import annotations

import asyncio

import pytest

from core.clock import ManualClock
from core.ratebudget import RateBudget


async def settle() -> None:
    """Let every ready task run until it blocks again."""
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_budget_is_spent_without_waiting() -> None:
    clock = ManualClock()
    budget = RateBudget(clock, 3)
    for _ in range(3):
        await budget.acquire()
    assert budget.remaining == 0
    assert budget.waits == 0


async def test_a_spent_budget_waits_until_the_oldest_request_ages_out() -> None:
    clock = ManualClock()
    budget = RateBudget(clock, 2)
    await budget.acquire()
    clock.advance(20)
    await budget.acquire()
    waiter = asyncio.create_task(budget.acquire())
    await settle()
    assert not waiter.done() and budget.waits == 1
    clock.advance(39.9)  # t=59.9: the first request still counts
    await settle()
    assert not waiter.done()
    clock.advance(0.1)  # t=60: it ages out
    await settle()
    assert waiter.done()
    assert budget.remaining == 0


async def test_the_window_slides_rather_than_resets() -> None:
    clock = ManualClock()
    budget = RateBudget(clock, 60)
    for _ in range(30):
        await budget.acquire()
    clock.advance(30)
    for _ in range(30):
        await budget.acquire()
    clock.advance(30)  # the first 30 aged out, the next 30 still count
    assert budget.remaining == 30


async def test_concurrent_waiters_never_overspend() -> None:
    clock = ManualClock()
    budget = RateBudget(clock, 2)
    granted: list[float] = []
    start = clock.now()

    async def one() -> None:
        await budget.acquire()
        granted.append((clock.now() - start).total_seconds())

    tasks = [asyncio.create_task(one()) for _ in range(5)]
    for _ in range(4):
        await settle()
        clock.advance(60)
    await settle()
    await asyncio.gather(*tasks)
    assert granted == [0, 0, 60, 60, 120]


def test_try_acquire_reports_the_wait() -> None:
    clock = ManualClock()
    budget = RateBudget(clock, 1, window_s=10)
    assert budget.try_acquire() == 0.0
    clock.advance(4)
    assert budget.try_acquire() == pytest.approx(6.0)
    assert budget.limit == 1


@pytest.mark.parametrize(("per_window", "window_s"), [(0, 60.0), (5, 0.0)])
def test_a_budget_needs_room(per_window: int, window_s: float) -> None:
    with pytest.raises(ValueError):
        RateBudget(ManualClock(), per_window, window_s=window_s)
