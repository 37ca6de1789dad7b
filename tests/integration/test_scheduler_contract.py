"""The Scheduler contract: PTB's JobQueue (the process's one scheduler) and the manual
scheduler the unit tests drive must agree on what `every` and `soon` mean."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

import pytest
from apscheduler.triggers.date import DateTrigger
from telegram.ext import ApplicationBuilder, JobQueue

from app.scheduler import JobQueueScheduler
from core.pacer import Pacer
from core.ports import Scheduler
from tests.fakes import ManualScheduler


class Harness(Protocol):
    scheduler: Scheduler

    async def settle(self) -> None:
        """Let every callback due now run."""
        ...

    def periodic(self) -> dict[str, float]:
        """The periodic callbacks: name → seconds."""
        ...


class Manual:
    def __init__(self) -> None:
        self.manual = ManualScheduler()
        self.scheduler: Scheduler = self.manual

    async def settle(self) -> None:
        await self.manual.run_soon()

    def periodic(self) -> dict[str, float]:
        return {name: seconds for name, (seconds, _) in self.manual.periodic.items()}


class OnJobQueue:
    def __init__(self, jobs: JobQueue) -> None:  # type: ignore[type-arg]
        self.jobs = jobs
        self.scheduler = JobQueueScheduler(jobs)

    async def settle(self) -> None:
        # APScheduler runs on wall time: wait (bounded) until no one-off job is waiting,
        # then let the tasks it handed to the loop finish their few steps.
        for _ in range(400):
            if not any(isinstance(j.job.trigger, DateTrigger) for j in self.jobs.jobs()):
                break
            await asyncio.sleep(0.005)
        else:
            raise AssertionError("the JobQueue did not run its one-off jobs")
        for _ in range(10):
            await asyncio.sleep(0)

    def periodic(self) -> dict[str, float]:
        return {j.name: j.job.trigger.interval.total_seconds() for j in self.jobs.jobs()
                if j.name is not None and hasattr(j.job.trigger, "interval")}


@pytest.fixture(params=["manual", "jobqueue"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "manual":
        yield Manual()
        return
    app = ApplicationBuilder().token("1:contract").build()
    assert app.job_queue is not None
    await app.job_queue.start()
    try:
        yield OnJobQueue(app.job_queue)
    finally:
        await app.job_queue.stop(wait=True)


async def test_soon_runs_the_callback_once(harness: Harness) -> None:
    ran: list[str] = []

    async def callback() -> None:
        ran.append("ran")

    harness.scheduler.soon(callback, name="once")
    await harness.settle()
    await harness.settle()

    assert ran == ["ran"]


async def test_every_is_named_with_its_period_and_does_not_run_at_once(
        harness: Harness) -> None:
    ran: list[str] = []

    async def callback() -> None:
        ran.append("ran")

    harness.scheduler.every(3600.0, callback, name="hourly")
    await harness.settle()

    assert harness.periodic() == {"hourly": 3600.0}
    assert ran == []


async def test_a_pacer_on_it_steps_once_per_burst_of_pokes(harness: Harness) -> None:
    steps: list[int] = []

    async def step() -> None:
        steps.append(len(steps))

    pacer = Pacer(harness.scheduler, step, name="burst")
    for _ in range(10):
        pacer.poke()
    await harness.settle()
    await asyncio.wait_for(pacer.idle(), 5)

    assert steps == [0]
