"""The scheduler port: background work runs on the process's one scheduler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

Callback = Callable[[], Awaitable[None]]


class Scheduler(Protocol):
    """Runs callbacks later, on the one scheduler of the process
    (app.scheduler.JobQueueScheduler: PTB's JobQueue, APScheduler underneath)."""

    def every(self, seconds: float, callback: Callback, *, name: str) -> None:
        """Run `callback` every `seconds`, the first time `seconds` from now; a run that
        is still going when the next is due makes that one wait, never overlap."""
        ...

    def soon(self, callback: Callback, *, name: str) -> None:
        """Run `callback` once, as soon as the loop gets to it."""
        ...
