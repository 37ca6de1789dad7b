"""What /queue says about jobs: counts, which are running for how long, why others wait.

`JobQueueView` is a QueueSectionView (the "jobs" block, from two cached sections: the
counts, and the running jobs, which move fast and are cheap to rebuild) and a
WaitExplainer ("retry at 10:42 (2/3)", "#3 in line", "needs approval (approvers: …)").
It leaves tasks that wait for dependencies to DependencyService's explainer, which
names them; register this one first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from core.clock import Clock
from core.config import Settings
from core.jobs.model import JobCounts, LinePlace, RunningJob
from core.pipeline.stages import Pipeline
from core.pipeline.tasks import Task
from core.ports import JobStats
from core.queue_view import QueueBlock, Reasons
from core.summary.cache import Section

COUNTS = "jobs"
PROGRESS = "progress"


class JobQueueView:
    """Jobs as /queue shows them; reads only the database."""

    def __init__(self, stats: JobStats, settings: Settings, clock: Clock) -> None:
        self._stats = stats
        self._settings = settings
        self._clock = clock

    # --- QueueSectionView -------------------------------------------------------------

    def sections(self) -> Sequence[Section]:
        return (
            Section(COUNTS, self._counts, ("tasks", "jobs", "deps"),
                    until=lambda counts: counts.next_due),
            Section(PROGRESS, self._stats.running, ("runs", "jobs"), inline=True),
        )

    def block(self, parts: Mapping[str, Any], now: datetime) -> QueueBlock | None:
        counts: JobCounts = parts.get(COUNTS) or JobCounts()
        running: Sequence[RunningJob] = parts.get(PROGRESS) or ()
        head = (f"{counts.running} running (max {self._settings.max_concurrency})"
                f" · {counts.queued} queued · {counts.waiting_deps} wait for dependencies"
                f" · {counts.backoff} in backoff")
        lines = (head, *(_running_line(r, now) for r in running))
        data = {"running": counts.running, "queued": counts.queued,
                "waiting_deps": counts.waiting_deps, "backoff": counts.backoff}
        return QueueBlock("jobs", lines, data)

    async def queue_block(self) -> QueueBlock | None:
        """The block, read now (for callers without the cache)."""
        parts = {COUNTS: await self._counts(), PROGRESS: await self._stats.running()}
        return self.block(parts, self._clock.now())

    # --- WaitExplainer ----------------------------------------------------------------

    async def waits(self, tasks: Sequence[Task]) -> Mapping[int, str]:
        return await self._waits(tasks, numbered=True)

    async def card_waits(self, tasks: Sequence[Task]) -> Mapping[int, str]:
        """As `waits`, without the place in line: a card is edited only when what it
        shows changes, and the line moves without anything written about the task."""
        return await self._waits(tasks, numbered=False)

    async def _waits(self, tasks: Sequence[Task], *, numbered: bool) -> Mapping[int, str]:
        now = self._clock.now()
        places = {p.task_id: p for p in await self._stats.places(
            [t.id for t in tasks], now, self._settings.task_deps_enabled)}
        found = Reasons()
        for task in tasks:
            place = places.get(task.id)
            why = (self._approval(task) if place is None
                   else self._place_text(place, now, numbered))
            if why:
                found[task.id] = why
            if place is not None and place.not_before > now and not place.running:
                found.hold_until(place.not_before)
        return found

    def _approval(self, task: Task) -> str | None:
        pipeline: Pipeline = self._settings.pipeline
        if task.stage not in pipeline.active or not pipeline.spec(task.stage).needs_approval:
            return None
        approvers = sorted(self._settings.approvers)
        if not approvers:
            return "needs approval, but no approvers are set (ORCH_APPROVERS)"
        return "needs approval (approvers: " + ", ".join(map(str, approvers)) + ")"

    def _place_text(self, place: LinePlace, now: datetime, numbered: bool) -> str | None:
        if place.running or place.waits_for_deps:
            return None
        if place.not_before > now:
            most = self._settings.transient_max_attempts
            at = place.not_before.strftime("%H:%M")
            return f"retry at {at} ({place.transient_attempts + 1}/{most})"
        return f"#{place.position} in line" if place.position and numbered else "in line"

    async def _counts(self) -> JobCounts:
        return await self._stats.counts(self._clock.now(), self._settings.task_deps_enabled)


def _running_line(job: RunningJob, now: datetime) -> str:
    minutes = max(0, int((now - job.started_at).total_seconds() // 60))
    return f"{job.key} {job.stage} ({job.role}) · {minutes}m · attempt {job.attempt}"
