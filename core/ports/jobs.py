"""The job ports: the stage engine's jobs, the job loop's claims and runs, /queue's view."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from core.jobs.effort import Costliest, EffortTotals
    from core.jobs.model import (
        Claim,
        ClaimLimits,
        Job,
        JobCounts,
        JobDraft,
        JobsOverview,
        JobUpdate,
        LinePlace,
        Run,
        RunEnd,
        RunningJob,
        Swept,
    )
    from core.pipeline.stages import Stage


class JobStore(Protocol):
    """The jobs of tasks, as the stage engine needs them (storage.jobs.SqliteJobStore)."""

    async def enqueue(self, draft: JobDraft, at: datetime) -> Job:
        """Insert a queued job; JobConflict if the task has an open job already."""
        ...

    async def open_job(self, task_id: int) -> Job | None:
        """The task's queued or running job, if any."""
        ...

    async def latest_job(self, task_id: int, stage: Stage) -> Job | None:
        """The newest job of the task in that stage, whatever its status."""
        ...

    async def cancel_queued(self, task_id: int, at: datetime) -> Job | None:
        """Withdraw the task's queued job (a running one is left to finish)."""
        ...

    async def finish(
        self, run_id: int, job_id: int, end: RunEnd, update: JobUpdate, at: datetime
    ) -> bool:
        """End an open run and settle its job in one transaction; False (and nothing
        written) when the run is no longer open, e.g. a sweep failed it meanwhile."""
        ...

    async def last_run(self, job_id: int) -> Run | None:
        """The newest run of a job."""
        ...


class RunStore(Protocol):
    """Claims and the run lifecycle, as the job loop needs them."""

    async def claim(self, owner: str, at: datetime, limits: ClaimLimits) -> Claim | None:
        """Take the oldest runnable job within the limits and open its run; None if none."""
        ...

    async def mark_running(self, run_id: int, at: datetime) -> None:
        """pending → running, when the agent starts."""
        ...

    async def find_open_run(self, task_id: int, stage: Stage) -> Run | None:
        """The task's pending or running run in that stage, if any."""
        ...

    async def open_run_owners(self) -> Sequence[str]:
        """The distinct owners of runs that are pending or running."""
        ...

    async def sweep_stale(
        self, *, owner: str, cutoff: datetime, dead_owners: Sequence[str], reason: str,
        at: datetime,
    ) -> Sequence[Swept]:
        """Fail other owners' open runs that started before `cutoff` or whose owner is
        dead, and requeue their jobs (each at most once)."""
        ...


class JobStats(Protocol):
    """The jobs as /queue shows them."""

    async def overview(self, at: datetime, limits: ClaimLimits) -> JobsOverview:
        """Queued jobs in claim order and running jobs, for /queue."""
        ...

    async def counts(self, at: datetime, deps_enabled: bool) -> JobCounts:
        """Every open job counted by what it does or waits for (one pass)."""
        ...

    async def places(self, task_ids: Collection[int], at: datetime,
                     deps_enabled: bool) -> Sequence[LinePlace]:
        """The open jobs of the given tasks (in their task's stage) and their places."""
        ...

    async def running(self) -> Sequence[RunningJob]:
        """Running jobs with their run's attempt and start, oldest first."""
        ...

class RunLedger(Protocol):
    """Runs as the effort view reads them (storage.runs.SqliteRunLedger)."""

    async def task_totals(self, task_id: int) -> EffortTotals:
        """Every finished run of the task, summed."""
        ...

    async def last_run(self, task_id: int) -> Run | None:
        """The task's newest finished run."""
        ...

    async def totals_since(self, since: datetime) -> EffortTotals:
        """Every run started at or after `since`."""
        ...

    async def costliest_running(self) -> Costliest | None:
        """Of the tasks with a running job, the one whose runs cost most so far."""
        ...

    async def recent(self, limit: int) -> Sequence[Mapping[str, Any]]:
        """The newest runs as plain rows, for /api/runs."""
        ...
