"""The Scheduler port over PTB's JobQueue: the process's one scheduler."""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackContext, JobQueue

from core.ports.schedule import Callback

# A run still going when the next is due: the next waits (coalesced), never overlaps.
_ONE_AT_A_TIME = {"max_instances": 1, "coalesce": True}


class JobQueueScheduler:
    """Scheduler on PTB's JobQueue (APScheduler underneath); jobs are named for /jobs."""

    def __init__(self, job_queue: JobQueue[Any]) -> None:
        self._jobs = job_queue

    def every(self, seconds: float, callback: Callback, *, name: str) -> None:
        self._jobs.run_repeating(_job(callback), interval=seconds, first=seconds, name=name,
                                 job_kwargs=_ONE_AT_A_TIME)

    def soon(self, callback: Callback, *, name: str) -> None:
        self._jobs.run_once(_job(callback), when=0, name=name)


def _job(callback: Callback) -> Any:
    async def run(_: CallbackContext[Any, Any, Any, Any]) -> None:
        await callback()

    return run


def scheduler_of(app: Application[Any, Any, Any, Any, Any, Any]) -> JobQueueScheduler:
    """The application's JobQueue as the process's one scheduler."""
    if app.job_queue is None:
        raise RuntimeError("PTB's JobQueue is missing: install python-telegram-bot[job-queue]")
    return JobQueueScheduler(app.job_queue)
