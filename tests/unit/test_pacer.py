"""The pacer: a background loop's steps on the one scheduler, never two at once."""

from __future__ import annotations

import asyncio

import pytest

from core.pacer import Pacer, Step
from tests.fakes import ManualScheduler


class Steps:
    """A step that records its runs and can poke its own pacer while it runs."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self.pacer: Pacer | None = None
        self.poke_during: int = 0  # pokes to make during the next run
        self.fail_next = False

    async def step(self) -> None:
        self.runs.append("step")
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("store on fire")
        while self.poke_during:
            self.poke_during -= 1
            assert self.pacer is not None
            self.pacer.poke()
            await asyncio.sleep(0)

    async def first(self) -> None:
        self.runs.append("first")


@pytest.fixture
def steps() -> Steps:
    return Steps()


@pytest.fixture
def scheduler() -> ManualScheduler:
    return ManualScheduler()


def paced(scheduler: ManualScheduler, steps: Steps, *, interval_s: float | None = None,
          first: Step | None = None) -> Pacer:
    pacer = Pacer(scheduler, steps.step, name="loop", interval_s=interval_s, first=first)
    steps.pacer = pacer
    return pacer


async def test_start_schedules_the_period_and_steps_once_now(
        scheduler: ManualScheduler, steps: Steps) -> None:
    pacer = paced(scheduler, steps, interval_s=30.0, first=steps.first)

    pacer.start()

    assert [(name, s) for name, (s, _) in scheduler.periodic.items()] == [("loop", 30.0)]
    assert await scheduler.run_soon() == 1
    assert steps.runs == ["first", "step"]
    await scheduler.run_every()
    assert steps.runs == ["first", "step", "step"]  # `first` ran once only


async def test_pokes_together_make_one_step(scheduler: ManualScheduler, steps: Steps) -> None:
    pacer = paced(scheduler, steps)

    for _ in range(5):
        pacer.poke()

    assert await scheduler.run_soon() == 1
    assert steps.runs == ["step"]


async def test_pokes_during_a_step_make_exactly_one_more(
        scheduler: ManualScheduler, steps: Steps) -> None:
    pacer = paced(scheduler, steps)
    steps.poke_during = 3

    pacer.poke()
    await scheduler.run_soon()

    assert steps.runs == ["step", "step"]


async def test_a_period_during_a_step_waits_instead_of_overlapping(steps: Steps) -> None:
    gate, started = asyncio.Event(), asyncio.Event()
    entered: list[int] = []

    async def slow() -> None:
        entered.append(len(entered))
        started.set()
        await gate.wait()

    scheduler = ManualScheduler()
    pacer = Pacer(scheduler, slow, name="loop", interval_s=10.0)
    pacer.start()
    first = asyncio.create_task(scheduler.run_soon())
    await started.wait()
    await scheduler.run_every()  # due while the first step still runs: noted, not run
    assert entered == [0]
    gate.set()
    await first
    assert entered == [0, 1]


async def test_a_failing_step_is_counted_and_pacing_goes_on(
        scheduler: ManualScheduler, steps: Steps, caplog: pytest.LogCaptureFixture) -> None:
    pacer = paced(scheduler, steps)
    steps.fail_next = True

    pacer.poke()
    await scheduler.run_soon()
    pacer.poke()
    await scheduler.run_soon()

    assert (steps.runs, pacer.errors, pacer.steps) == (["step", "step"], 1, 1)
    assert "loop: a step failed" in caplog.text


async def test_idle_waits_for_every_step_asked_for(
        scheduler: ManualScheduler, steps: Steps) -> None:
    pacer = paced(scheduler, steps)
    await asyncio.wait_for(pacer.idle(), 1)  # nothing asked: idle at once

    pacer.poke()
    waiting = asyncio.create_task(pacer.idle())
    await asyncio.sleep(0)
    assert not waiting.done()
    await scheduler.run_soon()
    await asyncio.wait_for(waiting, 1)
    assert steps.runs == ["step"]


async def test_stop_cancels_the_step_in_flight_and_paces_no_more(
        scheduler: ManualScheduler) -> None:
    started, runs = asyncio.Event(), []

    async def hangs() -> None:
        runs.append("hangs")
        started.set()
        await asyncio.Event().wait()  # a peer that never answers

    pacer = Pacer(scheduler, hangs, name="loop", interval_s=10.0)
    pacer.start()
    running = asyncio.create_task(scheduler.run_soon())
    await started.wait()

    pacer.stop()
    await asyncio.wait_for(running, 1)  # the scheduler's job ends: nothing holds a stop
    pacer.poke()
    await scheduler.run_every()

    assert runs == ["hangs"] and pacer.errors == 0 and scheduler.queued == []
