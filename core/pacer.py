"""The pacer: how a background loop runs on the one scheduler, instead of a hand-written
`while True` with its own wake events and sleeps.

A service offers one step (a round of work that never raises on purpose) and says when it
has news by calling `poke`. The pacer runs the step every `interval_s` (if any) and soon
after a poke, never two at once: a poke that arrives during a step makes exactly one more
step after it, and pokes that arrive together make one step. A step that raises is
logged and counted; the pacing goes on. `stop` cancels the step in flight and paces no
more: the scheduler may wait for a running job on its own stop (PTB shields jobs), and
a step hanging on a peer must not hold a shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from core.ports import Scheduler

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[object]]


class Pacer:
    """Runs `step` on the scheduler: periodically, and promptly when poked."""

    def __init__(self, scheduler: Scheduler, step: Step, *, name: str,
                 interval_s: float | None = None, first: Step | None = None) -> None:
        self._scheduler = scheduler
        self._step = step
        self._first = first  # once, before the first step (a start-up sweep)
        self.name = name
        self._interval_s = interval_s
        self._queued = False  # a prompt run is scheduled and has not begun
        self._running = False
        self._again = False
        self._stopped = False
        self._inflight: asyncio.Future[object] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.steps = 0
        self.errors = 0

    def start(self) -> None:
        """Schedule the periodic steps (if any) and one step now."""
        if self._interval_s:
            self._scheduler.every(self._interval_s, self._run, name=self.name)
        self.poke()

    def poke(self) -> None:
        """There is news: step soon. Never blocks, never raises; cheap to call often."""
        if self._stopped:
            return
        self._idle.clear()
        if self._running:
            self._again = True
        elif not self._queued:
            self._queued = True
            self._scheduler.soon(self._run, name=f"{self.name}-now")

    def stop(self) -> None:
        """Pace no more, and cancel the step in flight (its service sees a cancellation,
        as at any stop)."""
        self._stopped = True
        if self._inflight is not None:
            self._inflight.cancel()

    async def idle(self) -> None:
        """Until every step asked for so far has run (tests wait here instead of sleeping)."""
        await self._idle.wait()

    async def _run(self) -> None:
        self._queued = False
        if self._stopped:
            return
        if self._running:
            self._again = True
            return
        self._running = True
        try:
            if self._first is not None:
                first, self._first = self._first, None
                await self._guard(first)
            self._again = True
            while self._again and not self._stopped:
                self._again = False
                await self._guard(self._step)
        finally:
            self._running = False
            if not self._queued:
                self._idle.set()

    async def _guard(self, step: Step) -> None:
        self._inflight = inflight = asyncio.ensure_future(step())
        try:
            await inflight
            self.steps += 1
        except asyncio.CancelledError:
            if not (self._stopped and inflight.cancelled()):
                raise  # the scheduler's own job was cancelled: let it end
        except Exception:
            self.errors += 1
            log.exception("%s: a step failed; the next one runs as paced", self.name)
        finally:
            self._inflight = None
