"""What /queue says about jobs: which are running for how long, and why others wait.

`JobQueueView` is both a QueueBlockSource (the "jobs" block) and a WaitExplainer
("retry at 10:42 (2/3)", "#3 in line"). It leaves tasks that wait for dependencies to
DependencyService's explainer, which names them; register this one first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from core.clock import Clock
from core.config import Settings
from core.jobs.model import ClaimLimits, JobsOverview, QueuedJob, RunningJob
from core.pipeline.tasks import Task
from core.ports import JobStats
from core.queue_view import QueueBlock


class JobQueueView:
    """Jobs as /queue shows them; reads only the database."""

    def __init__(self, stats: JobStats, settings: Settings, clock: Clock) -> None:
        self._stats = stats
        self._settings = settings
        self._clock = clock

    async def queue_block(self) -> QueueBlock | None:
        now = self._clock.now()
        view = await self._overview(now)
        backoff = [q for q in view.queued if q.not_before > now and not q.waits_for_deps]
        deps = [q for q in view.queued if q.waits_for_deps]
        head = (f"{len(view.running)} running (max {self._settings.max_concurrency})"
                f" · {len(view.queued)} queued · {len(deps)} wait for dependencies"
                f" · {len(backoff)} in backoff")
        lines = (head, *(_running_line(r, now) for r in view.running))
        data = {"running": len(view.running), "queued": len(view.queued),
                "waiting_deps": len(deps), "backoff": len(backoff)}
        return QueueBlock("jobs", lines, data)

    async def waits(self, tasks: Sequence[Task]) -> Mapping[int, str]:
        now = self._clock.now()
        wanted = {t.id for t in tasks}
        found: dict[int, str] = {}
        position = 0
        for queued in (await self._overview(now)).queued:
            if queued.waits_for_deps:
                continue
            if queued.not_before > now:
                found[queued.task_id] = self._backoff_text(queued)
                continue
            position += 1
            found[queued.task_id] = f"#{position} in line"
        return {task_id: why for task_id, why in found.items() if task_id in wanted}

    async def _overview(self, now: datetime) -> JobsOverview:
        s = self._settings
        limits = ClaimLimits(s.max_concurrency, s.per_repo_concurrency, s.task_deps_enabled)
        return await self._stats.overview(now, limits)

    def _backoff_text(self, queued: QueuedJob) -> str:
        most = self._settings.transient_max_attempts
        at = queued.not_before.strftime("%H:%M")
        return f"retry at {at} ({queued.transient_attempts + 1}/{most})"


def _running_line(job: RunningJob, now: datetime) -> str:
    minutes = max(0, int((now - job.started_at).total_seconds() // 60))
    return f"{job.key} {job.stage} ({job.role}) · {minutes}m · attempt {job.attempt}"
