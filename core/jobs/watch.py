"""Runs follow their task, and silent runs are caught.

`RunWatch` keeps a `RunControl` for every run in flight. It hears every task event
(it is a Notifier: `hub.subscribe(watch)`), whatever moved the task — the chat, the
tracker sync, the stage engine, a dependency cycle — and when a task leaves the stage
its running job belongs to, it asks the run to stop, with the reason ("moved to
Blocked in Plane"). The runner then stops the agent's process group and the run ends
`cancelled`; nothing the agent wrote afterwards is read.

`check_stalls()`, called on every job-loop tick, stops a run whose agent has shown no
activity (output, or a touch of its heartbeat file) for its role's `stall_timeout_s`;
that run ends as a transient failure ("stalled: no output for 5 min") and is retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.clock import Clock
from core.pipeline.tasks import ChangeKind, Task, TaskEvent

log = logging.getLogger(__name__)


class RunControl:
    """What a running agent and orch share: activity seen, and a request to stop."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._stop = asyncio.Event()
        self.last_activity = clock.now()
        self.reason: str | None = None
        self.transient = False
        self.started = False  # the agent runs: from here on, silence counts as a stall

    def begin(self) -> None:
        """The agent is about to start (its worktree is ready): the stall clock starts."""
        self.started = True
        self.touch()

    def touch(self) -> None:
        """The agent did something (printed, touched its heartbeat)."""
        self.last_activity = self._clock.now()

    def stop(self, reason: str, *, transient: bool = False) -> bool:
        """Ask the run to stop; the first reason wins. False if asked already."""
        if self._stop.is_set():
            return False
        self.reason, self.transient = reason, transient
        self._stop.set()
        return True

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def wait(self) -> None:
        await self._stop.wait()


@dataclass(frozen=True, slots=True)
class Watched:
    task_id: int
    stage: str
    role: str
    control: RunControl


class RunWatch:
    """The runs in flight, by task; see the module docstring."""

    def __init__(self, clock: Clock, stall_timeouts: Callable[[str], float]) -> None:
        self._clock = clock
        self._stall_timeout = stall_timeouts
        self._runs: dict[int, Watched] = {}
        self.stopped_total = 0
        self.stalled_total = 0

    def register(self, task_id: int, stage: str, role: str) -> RunControl:
        control = RunControl(self._clock)
        self._runs[task_id] = Watched(task_id, stage, role, control)
        return control

    def release(self, task_id: int, control: RunControl) -> None:
        watched = self._runs.get(task_id)
        if watched is not None and watched.control is control:
            del self._runs[task_id]

    @property
    def in_flight(self) -> Mapping[int, Watched]:
        return self._runs

    def publish(self, event: TaskEvent, task: Task) -> None:
        """Notifier port: a task that left its running job's stage stops that run."""
        watched = self._runs.get(task.id)
        if watched is None or task.stage == watched.stage:
            return
        if watched.control.stop(stop_reason(event)):
            self.stopped_total += 1
            log.info("stopping %s's %s run: %s", task.key, watched.role,
                     watched.control.reason)

    def follow(self, task: Task, watched_stage: str, control: RunControl) -> bool:
        """Before the agent starts: stop at once if the task has already moved on."""
        if task.stage == watched_stage:
            return False
        return control.stop(f"moved to {task.stage} before the run started")

    def check_stalls(self) -> int:
        """Stop every run silent past its role's stall timeout; how many were stopped."""
        now = self._clock.now()
        stopped = 0
        for watched in list(self._runs.values()):
            if not watched.control.started:
                continue  # still preparing (a slow clone is not a silent agent)
            limit = self._stall_timeout(watched.role)
            silent = (now - watched.control.last_activity).total_seconds()
            if limit > 0 and silent >= limit and watched.control.stop(
                    f"stalled: no output for {spell_duration(limit)}", transient=True):
                stopped += 1
        self.stalled_total += stopped
        return stopped


def stop_reason(event: TaskEvent) -> str:
    """Why a run stops, from the event that moved its task: the event's own reason when
    it names the move ("moved to Blocked in Plane"), else the move itself."""
    if event.reason and event.reason.startswith(("moved", "cancelled", "closed")):
        return event.reason
    move = {
        ChangeKind.BLOCKED: f"blocked by {event.actor}",
        ChangeKind.FAILED: "blocked",
        ChangeKind.CANCELLED: f"cancelled by {event.actor}",
        ChangeKind.ROLLED_BACK: f"rolled back to {event.to_stage}",
        ChangeKind.DONE: "closed",
    }.get(event.kind, f"moved to {event.to_stage}")
    return f"{move}: {event.reason}" if event.reason else move


def spell_duration(seconds: float) -> str:
    """5 min, 90 s, 2 h: the way a card says it."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
