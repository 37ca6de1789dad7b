"""The stage engine: the only code that moves tasks as a result of work.

It hears every task event (it is a Notifier: `hub.subscribe(engine)`), remembers which
tasks changed, and `drain()` — called by the job loop on every tick — brings each one
in line with its stage through `sync(task_id)`:

- a stage with a role: enqueue that role's job once per stay in the stage (with the
  rollback reason and open lessons in its context); when the job has succeeded, run
  the stage's gates: all pass → advance; a failing gate → roll back (or block when the
  stage has no rollback target); a waiting gate (human approval) → wait;
- a failed job: permanent → roll back or block as the stage says; retries spent or
  nothing to run it → block (kind FAILED, Retry button);
- a stage without a role: advance at once, after its gates (`queued` waits for Approve).

A stay in a stage starts with the event that entered it; a job belongs to the stay
when it was enqueued at or after that event's version, so a job from before a rollback
never counts. `sync` decides from stored state only, which makes it idempotent: run
again on an unchanged task it writes nothing and publishes nothing, and after a crash
`sync_all()` finishes whatever a dead process left between two steps.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from core.clock import Clock
from core.config import Settings
from core.errors import DomainError, StaleVersion
from core.jobs.agents import AgentResult, RunOutcome
from core.jobs.budget import TaskBudget
from core.jobs.gates import (
    QG_CHECKS,
    WAITING_GATES,
    GateCheck,
    GateContext,
    GateOutcome,
    Waiting,
    gate_order,
    validate_gates,
)
from core.jobs.model import (
    Claim,
    Effort,
    Failure,
    Job,
    JobConflict,
    JobContext,
    JobDraft,
    JobStatus,
    JobUpdate,
    RetryPolicy,
    RunEnd,
)
from core.pipeline.service import PipelineService
from core.pipeline.stages import BLOCKED, QUEUED, StageSpec
from core.pipeline.tasks import ENGINE, Actor, ChangeKind, Task, TaskEvent
from core.ports import JobStore, LessonsFeed

log = logging.getLogger(__name__)

MAX_LESSONS = 5
MAX_STEPS = 16  # moves in one sync; a pipeline is far shorter, so this only stops a bug
VISIT_LOOKBACK = 200  # events read to find where the current stay in a stage began


GateFailureHook = Callable[[Task, str, str | None, str, str], Awaitable[Any]]
RetriesSpentHook = Callable[[Task, str, str | None, str], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Visit:
    """The current stay of a task in its stage."""

    entry_version: int
    entry: TaskEvent | None
    events: Sequence[TaskEvent]

    def owns(self, job: Job, stage: str) -> bool:
        return job.stage == stage and job.task_version >= self.entry_version

    @property
    def rollback_reason(self) -> str | None:
        entry = self.entry
        return entry.reason if entry and entry.kind is ChangeKind.ROLLED_BACK else None


class StageEngine:
    """Moves tasks through the pipeline as their jobs and gates decide; see above."""

    def __init__(
        self,
        pipeline: PipelineService,
        jobs: JobStore,
        settings: Settings,
        clock: Clock,
        *,
        lessons: LessonsFeed | None = None,
        on_gate_failure: GateFailureHook | None = None,
        on_retries_spent: RetriesSpentHook | None = None,
        checks: Mapping[str, GateCheck] = QG_CHECKS,
        retry_policy: RetryPolicy | None = None,
        budget: TaskBudget | None = None,
    ) -> None:
        validate_gates(pipeline.stages, checks)
        self._pipeline = pipeline
        self._flow = pipeline.stages
        self._jobs = jobs
        self._settings = settings
        self._clock = clock
        self._lessons = lessons
        self._on_gate_failure = on_gate_failure
        self._on_retries_spent = on_retries_spent
        self._checks = checks
        self._retry = retry_policy or RetryPolicy()
        self._budget = budget
        self._pending: dict[int, None] = {}
        self._locks = _KeyedLocks()
        self.wake: Callable[[], None] = _nothing  # the runtime's pacer: there is news
        self.errors = 0

    def reconfigure(self, settings: Settings) -> None:
        """A reloaded configuration (same stages; roles, gates, agents may differ): the
        next enqueue and the next gate check use it. Unknown gates raise, as at start."""
        validate_gates(settings.pipeline, self._checks)
        self._settings = settings
        self._flow = settings.pipeline
        self.wake()

    # --- hearing about changes ---------------------------------------------------------

    def publish(self, event: TaskEvent, task: Task) -> None:
        """Notifier port: note the task for the next `drain()`; never raises."""
        self._pending[task.id] = None
        self.wake()

    def touch(self, task_id: int) -> None:
        """Note a task for the next `drain()` without an event (e.g. its job was swept)."""
        self._pending[task_id] = None
        self.wake()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def drain(self, limit: int = 1000) -> int:
        """Sync every task noted since the last drain (and those its moves note)."""
        done = 0
        while self._pending and done < limit:
            task_id = next(iter(self._pending))
            del self._pending[task_id]
            await self._sync_safely(task_id)
            done += 1
        return done

    async def sync_all(self) -> None:
        """Sync every open task: at start-up, to finish what a dead process left."""
        for task in await self._pipeline.open_tasks():
            await self._sync_safely(task.id)

    # --- the outcome of a run ----------------------------------------------------------

    async def finish(self, claim: Claim, result: AgentResult) -> None:
        """Record how a run ended (the run and its job, in one transaction), then act."""
        end = RunEnd(
            succeeded=result.outcome is RunOutcome.SUCCEEDED,
            exit_code=result.exit_code,
            duration_s=result.duration_s,
            error=result.error,
            log_path=str(result.log_path),
            result=result.structured,
            cancelled=result.outcome is RunOutcome.CANCELLED,
            effort=Effort.reported(result.structured, result.cpu_s),
        )
        await self._record(claim, end, self._settlement(claim.job, result))

    async def abandon(self, claim: Claim, reason: str) -> None:
        """The job cannot run at all (e.g. no agent for its role): fail it, block."""
        update = JobUpdate(JobStatus.FAILED, last_error=reason, failure=Failure.UNRUNNABLE)
        await self._record(claim, RunEnd(succeeded=False, error=reason), update)

    async def _record(self, claim: Claim, end: RunEnd, update: JobUpdate) -> None:
        now = self._clock.now()
        if not await self._jobs.finish(claim.run.id, claim.job.id, end, update, now):
            log.warning("run %s was closed meanwhile; its outcome is dropped", claim.run.id)
            return
        if self._budget is not None:
            await self._block_if_over_budget(claim.job.task_id)
        await self._sync_safely(claim.job.task_id)

    async def _block_if_over_budget(self, task_id: int) -> None:
        assert self._budget is not None
        try:
            reason = await self._budget.over(task_id)
            task = await self._pipeline.get(task_id)
        except Exception:
            log.warning("budget check failed for task #%s", task_id, exc_info=True)
            return
        if reason is not None and task.stage in self._flow.active and task.stage != BLOCKED:
            await self._block(task, reason, failed=False)

    def _settlement(self, job: Job, result: AgentResult) -> JobUpdate:
        if result.outcome is RunOutcome.SUCCEEDED:
            return JobUpdate(JobStatus.SUCCEEDED)
        error = headline(result.error) or f"the {job.role} failed"
        if result.outcome is RunOutcome.CANCELLED:
            return JobUpdate(JobStatus.CANCELLED, last_error=f"stopped: {error}")
        if result.outcome is RunOutcome.FAILED:
            return JobUpdate(JobStatus.FAILED, last_error=error, failure=Failure.PERMANENT)
        tries, most = job.transient_attempts + 1, self._settings.transient_max_attempts
        delay = self._retry.decide(tries, most)
        if delay is None:
            return JobUpdate(JobStatus.FAILED, transient_attempts=tries,
                             last_error=f"{error} ({tries} of {most} tries)",
                             failure=Failure.RETRIES_SPENT)
        not_before = self._clock.now() + timedelta(seconds=delay)
        return JobUpdate(JobStatus.QUEUED, not_before=not_before, transient_attempts=tries,
                         last_error=error)

    # --- the Retry button --------------------------------------------------------------

    async def retry(self, task_id: int, actor: Actor, *, expected_version: int | None = None
                    ) -> Task:
        """Retry a blocked task: unblock it and enqueue a fresh job (a new retry budget)."""
        await self._pipeline.unblock(
            task_id, actor, reason=f"retry by {actor.label}", expected_version=expected_version
        )
        await self.sync(task_id)
        return await self._pipeline.get(task_id)

    # --- sync --------------------------------------------------------------------------

    async def sync(self, task_id: int) -> None:
        """Bring one task in line with its stage; idempotent. Domain errors are kept in."""
        async with self._locks.hold(task_id):
            for _ in range(MAX_STEPS):
                task = await self._pipeline.lookup(task_id)
                if task is None or not await self._step(task):
                    return
            log.error("task #%s moved %s times in one sync; stopping", task_id, MAX_STEPS)

    async def _sync_safely(self, task_id: int) -> None:
        try:
            await self.sync(task_id)
        except Exception:  # one task's trouble must not stop the others
            self.errors += 1
            log.exception("stage engine failed on task #%s", task_id)

    async def _step(self, task: Task) -> bool:
        """One decision for the task; True when it moved (decide again)."""
        if task.stage not in self._flow.active:
            await self._jobs.cancel_queued(task.id, self._clock.now())
            return False
        spec = self._flow.spec(task.stage)
        visit = await self._visit(task)
        if spec.role is None:
            return task.stage != QUEUED and await self._judge(task, spec, visit, {})
        return await self._with_role(task, spec, visit)

    async def _visit(self, task: Task) -> Visit:
        events = await self._pipeline.history(task.id, VISIT_LOOKBACK)
        for event in reversed(events):
            if event.to_stage == task.stage and event.stage_changed:
                return Visit(event.version, event, events)
        return Visit(task.version, None, events)  # entered long ago: only new jobs count

    async def _with_role(self, task: Task, spec: StageSpec, visit: Visit) -> bool:
        current = await self._jobs.open_job(task.id)
        if current is not None:
            if visit.owns(current, task.stage) or current.status is JobStatus.RUNNING:
                return False  # its end brings us back here
            await self._jobs.cancel_queued(task.id, self._clock.now())  # from an older stay
        job = await self._jobs.latest_job(task.id, task.stage)
        if job is None or not visit.owns(job, task.stage) or job.status is JobStatus.CANCELLED:
            return await self._enqueue(task, spec, visit)
        if job.status is JobStatus.SUCCEEDED:
            run = await self._jobs.last_run(job.id)
            return await self._judge(task, spec, visit, run.result if run else {})
        return await self._after_failure(task, spec, job)

    async def _enqueue(self, task: Task, spec: StageSpec, visit: Visit) -> bool:
        role = spec.role or ""
        if role not in self._settings.agents:
            reason = f"no agent is configured for the {role} role (add agents.{role})"
            return await self._block(task, reason, failed=True)
        context = JobContext(visit.rollback_reason, await self._open_lessons(task))
        now = self._clock.now()
        draft = JobDraft(task.id, task.stage, role, task.repo, task.version, now, context)
        try:
            await self._jobs.enqueue(draft, now)
        except JobConflict:
            log.info("%s has an open job already; leaving it", task.key)
        return False

    async def _judge(
        self, task: Task, spec: StageSpec, visit: Visit, result: Mapping[str, Any]
    ) -> bool:
        ctx = GateContext(task, spec, result, visit.events, visit.entry_version,
                          self._settings.coverage_threshold)
        reasons = []
        for gate in gate_order(spec):
            outcome = await self._check(gate, ctx)
            if outcome is None:
                return await self._block(task, f"gate {gate} could not be checked", failed=True)
            if not outcome.passed:
                if gate in WAITING_GATES or isinstance(outcome, Waiting):
                    return False
                return await self._gate_failed(task, spec, gate, outcome.reason)
            reasons.append(outcome.reason)
        return await self._act(task, lambda: self._pipeline.advance(
            task.id, ENGINE, reason="; ".join(reasons) or None, expected_version=task.version))

    async def _check(self, gate: str, ctx: GateContext) -> GateOutcome | None:
        try:
            return await self._checks[gate](ctx)
        except Exception:
            log.exception("gate %s raised for %s", gate, ctx.task.key)
            return None

    async def _gate_failed(self, task: Task, spec: StageSpec, gate: str, reason: str) -> bool:
        text = f"{gate}: {reason}"
        moved = await self._fall_back(task, spec, text, failed=False)
        hook = self._on_gate_failure
        if moved and hook is not None:
            await _quietly("on_gate_failure",
                           lambda: hook(task, spec.name, spec.role, gate, reason))
        return moved

    async def _after_failure(self, task: Task, spec: StageSpec, job: Job) -> bool:
        reason = job.last_error or f"the {job.role} failed"
        if job.failure is Failure.PERMANENT:
            return await self._fall_back(task, spec, f"{job.role} failed: {reason}", failed=True)
        moved = await self._block(task, reason, failed=True)
        hook = self._on_retries_spent
        if moved and job.failure is Failure.RETRIES_SPENT and hook is not None:
            await _quietly("on_retries_spent", lambda: hook(task, spec.name, spec.role, reason))
        return moved

    async def _fall_back(self, task: Task, spec: StageSpec, reason: str, *, failed: bool
                         ) -> bool:
        """Roll back to the stage's target, or block where there is none."""
        if spec.rollback_to is None:
            return await self._block(task, reason, failed=failed)
        return await self._act(task, lambda: self._pipeline.rollback(
            task.id, ENGINE, reason, expected_version=task.version))

    async def _block(self, task: Task, reason: str, *, failed: bool) -> bool:
        return await self._act(task, lambda: self._pipeline.block(
            task.id, ENGINE, reason, expected_version=task.version, failed=failed))

    async def _act(self, task: Task, move: Callable[[], Awaitable[Task]]) -> bool:
        try:
            await move()
        except StaleVersion:
            return False  # someone else moved it; their event brings it back to us
        except DomainError as exc:
            log.warning("engine could not move %s: %s", task.key, exc)
            return False
        return True

    async def _open_lessons(self, task: Task) -> tuple[str, ...]:
        if self._lessons is None:
            return ()
        try:
            found = await self._lessons.open_lessons(task.repo, task.stage, MAX_LESSONS)
        except Exception:
            log.warning("lessons feed failed for %s", task.key, exc_info=True)
            return ()
        return tuple(found[:MAX_LESSONS])


def headline(error: str | None) -> str | None:
    """The first line of an error text: what a card or a push has room for."""
    if not error or not error.strip():
        return None
    return error.strip().splitlines()[0]


async def _quietly(what: str, call: Callable[[], Awaitable[Any]]) -> None:
    try:
        await call()
    except Exception:
        log.warning("%s hook failed; the engine carries on", what, exc_info=True)


class _KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: int) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


def _nothing() -> None:
    """No one to tell (tests step the engine themselves)."""
