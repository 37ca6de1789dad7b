"""JobStore, RunStore and JobStats in memory, honouring the SQL's rules."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime

from core.errors import (
    JobConflict,
    StorageError,
)
from core.jobs.model import (
    OPEN_JOB,
    OPEN_RUN,
    Claim,
    ClaimLimits,
    Job,
    JobCounts,
    JobDraft,
    JobsOverview,
    JobStatus,
    JobUpdate,
    LinePlace,
    QueuedJob,
    Run,
    RunEnd,
    RunningJob,
    RunStatus,
    Swept,
)
from tests.fakes.deps import InMemoryDependencyStore
from tests.fakes.tasks import InMemoryTaskStore


class InMemoryJobStore:
    """JobStore, RunStore and JobStats in dicts, honouring the SQL's rules: one open job
    per task, the claim's order, limits and dependency gate, terminal runs frozen."""

    def __init__(self, tasks: InMemoryTaskStore,
                 deps: InMemoryDependencyStore | None = None) -> None:
        self._tasks = tasks
        self._deps = deps
        self._jobs: dict[int, Job] = {}
        self._runs: dict[int, Run] = {}

    # JobStore
    async def enqueue(self, draft: JobDraft, at: datetime) -> Job:
        if self._open(draft.task_id) is not None:
            raise JobConflict(f"Task #{draft.task_id} has an open job already.")
        job = Job(id=len(self._jobs) + 1, task_id=draft.task_id, stage=draft.stage,
                  role=draft.role, repo=draft.repo, status=JobStatus.QUEUED, attempts=0,
                  transient_attempts=0, not_before=draft.not_before,
                  task_version=draft.task_version, enqueued_at=at, updated_at=at,
                  context=draft.context)
        self._jobs[job.id] = job
        return job

    async def open_job(self, task_id: int) -> Job | None:
        return self._open(task_id)

    async def latest_job(self, task_id: int, stage: str) -> Job | None:
        found = [j for j in self._jobs.values() if j.task_id == task_id and j.stage == stage]
        return max(found, key=lambda j: j.id, default=None)

    async def get_job(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    async def cancel_queued(self, task_id: int, at: datetime) -> Job | None:
        job = self._open(task_id)
        if job is None or job.status is not JobStatus.QUEUED:
            return None
        return self._put(replace(job, status=JobStatus.CANCELLED, updated_at=at))

    async def finish(self, run_id: int, job_id: int, end: RunEnd, update: JobUpdate,
                     at: datetime) -> bool:
        run = self._runs[run_id]
        if run.status not in OPEN_RUN:
            return False
        self._put_run(replace(run, status=end.status, completed_at=at, updated_at=at,
                              exit_code=end.exit_code, duration_s=end.duration_s,
                              error=end.error, log_path=end.log_path, result=dict(end.result),
                              effort=end.effort))
        job = self._jobs[job_id]
        if job.status is JobStatus.RUNNING:
            self._put(_settled(job, update, at))
        return True

    async def last_run(self, job_id: int) -> Run | None:
        found = [r for r in self._runs.values() if r.job_id == job_id]
        return max(found, key=lambda r: r.id, default=None)

    # RunStore
    async def claim(self, owner: str, at: datetime, limits: ClaimLimits) -> Claim | None:
        running = [j for j in self._jobs.values() if j.status is JobStatus.RUNNING]
        if len(running) >= limits.max_running:
            return None
        for job in sorted(self._jobs.values(), key=lambda j: (j.not_before, j.id)):
            if self._runnable(job, at, limits, running):
                return self._take(job, owner, at)
        return None

    async def mark_running(self, run_id: int, at: datetime) -> None:
        run = self._runs[run_id]
        if run.status is RunStatus.PENDING:
            self._put_run(replace(run, status=RunStatus.RUNNING, updated_at=at))

    async def find_open_run(self, task_id: int, stage: str) -> Run | None:
        found = [r for r in self._runs.values()
                 if r.task_id == task_id and r.stage == stage and r.status in OPEN_RUN]
        return max(found, key=lambda r: r.id, default=None)

    async def get_run(self, run_id: int) -> Run | None:
        return self._runs.get(run_id)

    async def runs_of(self, job_id: int) -> list[Run]:
        return sorted((r for r in self._runs.values() if r.job_id == job_id), key=lambda r: r.id)

    async def open_run_owners(self) -> Sequence[str]:
        return sorted({r.owner for r in self._runs.values() if r.status in OPEN_RUN})

    async def sweep_stale(self, *, owner: str, cutoff: datetime, dead_owners: Sequence[str],
                          reason: str, at: datetime) -> Sequence[Swept]:
        swept = []
        for run in sorted(self._runs.values(), key=lambda r: r.id):
            stale = run.started_at < cutoff or run.owner in dead_owners
            if run.status in OPEN_RUN and run.owner != owner and stale:
                self._put_run(replace(run, status=RunStatus.FAILED, error=reason,
                                      completed_at=at, updated_at=at))
                swept.append(Swept(run.id, run.job_id, run.task_id, self._requeue(run, reason, at)))
        return swept

    # JobStats
    async def overview(self, at: datetime, limits: ClaimLimits) -> JobsOverview:
        queued = [j for j in sorted(self._jobs.values(), key=lambda j: (j.not_before, j.id))
                  if j.status is JobStatus.QUEUED and self._in_stage(j)]
        running = [(j, self._open_run(j.id)) for j in self._jobs.values()
                   if j.status is JobStatus.RUNNING]
        return JobsOverview(
            tuple(QueuedJob(j.task_id, self._key(j), j.stage, j.role, j.not_before,
                            j.transient_attempts, limits.deps_enabled and self._waits(j))
                  for j in queued),
            tuple(RunningJob(j.task_id, self._key(j), j.stage, j.role, r.attempt, r.started_at)
                  for j, r in sorted(running, key=lambda p: (p[1].started_at, p[0].id))
                  if r is not None),
        )

    # internals

    async def counts(self, at: datetime, deps_enabled: bool) -> JobCounts:
        view = await self.overview(at, ClaimLimits(0, deps_enabled=deps_enabled))
        due = [q.not_before for q in view.queued if q.not_before > at]
        return JobCounts(
            len(view.running), len(view.queued), sum(q.waits_for_deps for q in view.queued),
            sum(not q.waits_for_deps and q.not_before > at for q in view.queued),
            min(due, default=None))

    async def places(self, task_ids: Collection[int], at: datetime,
                     deps_enabled: bool) -> Sequence[LinePlace]:
        view = await self.overview(at, ClaimLimits(0, deps_enabled=deps_enabled))
        ready = [q for q in view.queued if not q.waits_for_deps and q.not_before <= at]
        places = [LinePlace(q.task_id, False, q.not_before, q.transient_attempts,
                            q.waits_for_deps, ready.index(q) + 1 if q in ready else None)
                  for q in view.queued]
        places += [LinePlace(r.task_id, True, r.started_at, 0, False, None)
                   for r in view.running]
        return [p for p in places if p.task_id in task_ids]

    async def running(self) -> Sequence[RunningJob]:
        return (await self.overview(datetime.max, ClaimLimits(0))).running

    def _open(self, task_id: int) -> Job | None:
        return next((j for j in self._jobs.values()
                     if j.task_id == task_id and j.status in OPEN_JOB), None)

    def _open_run(self, job_id: int) -> Run | None:
        return next((r for r in self._runs.values()
                     if r.job_id == job_id and r.status in OPEN_RUN), None)

    def _runnable(self, job: Job, at: datetime, limits: ClaimLimits,
                  running: list[Job]) -> bool:
        if job.status is not JobStatus.QUEUED or job.not_before > at or not self._in_stage(job):
            return False
        repos, stages, roles = limits.full([(r.repo, r.stage, r.role) for r in running])
        if job.repo in repos or job.stage in stages or job.role in roles:
            return False
        return not (limits.deps_enabled and self._waits(job))

    def _in_stage(self, job: Job) -> bool:
        task = self._tasks.peek(job.task_id)
        return task is not None and task.stage == job.stage

    def _waits(self, job: Job) -> bool:
        return self._deps is not None and bool(self._deps._unmet(job.task_id))

    def _key(self, job: Job) -> str:
        task = self._tasks.peek(job.task_id)
        return task.key if task else f"#{job.task_id}"

    def _take(self, job: Job, owner: str, at: datetime) -> Claim:
        job = self._put(replace(job, status=JobStatus.RUNNING, attempts=job.attempts + 1,
                                owner=owner, updated_at=at))
        run = Run(id=len(self._runs) + 1, job_id=job.id, task_id=job.task_id, stage=job.stage,
                  attempt=job.attempts, status=RunStatus.PENDING, owner=owner,
                  started_at=at, updated_at=at, role=job.role)
        self._runs[run.id] = run
        return Claim(job, run)

    def _requeue(self, run: Run, reason: str, at: datetime) -> bool:
        job = self._jobs[run.job_id]
        if job.status is not JobStatus.RUNNING:
            return False
        self._put(replace(job, status=JobStatus.QUEUED, not_before=at, owner=None,
                          last_error=reason, updated_at=at))
        return True

    def _put(self, job: Job) -> Job:
        self._jobs[job.id] = job
        return job

    def _put_run(self, run: Run) -> None:
        if self._runs[run.id].status not in OPEN_RUN:
            raise StorageError("run is terminal and cannot change")
        self._runs[run.id] = run


def _settled(job: Job, update: JobUpdate, at: datetime) -> Job:
    return replace(
        job, status=update.status, owner=None, updated_at=at,
        not_before=update.not_before or job.not_before,
        transient_attempts=(job.transient_attempts if update.transient_attempts is None
                            else update.transient_attempts),
        last_error=update.last_error, failure=update.failure,
    )
