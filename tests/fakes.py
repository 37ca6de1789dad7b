"""In-memory stand-ins for core's ports; they pass the same contract tests as the real ones."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.config import AgentCommand
from core.deps.service import DepLink, Satisfied
from core.errors import (
    DuplicateTask,
    JobConflict,
    StorageError,
    TrackerRejected,
    TrackerUnavailable,
)
from core.jobs.agents import AgentRequest, AgentResult, RunOutcome
from core.jobs.model import (
    OPEN_JOB,
    OPEN_RUN,
    Claim,
    ClaimLimits,
    Job,
    JobDraft,
    JobsOverview,
    JobStatus,
    JobUpdate,
    QueuedJob,
    Run,
    RunEnd,
    RunningJob,
    RunStatus,
    Swept,
)
from core.pipeline.stages import BLOCKED, DONE, TERMINAL
from core.pipeline.tasks import Task, TaskEvent
from core.ports import Applied, EventDraft, TaskChange, TaskDraft
from core.sync.records import ItemBlocker, ItemRecord, SyncPosition
from core.tracker import ItemPage, Relations, StateGroup, TrackerProject, TrackerState, WorkItem


class InMemoryTaskStore:
    """A TaskStore in dicts, honouring SqliteTaskStore's rules (keys, duplicates, CAS)."""

    def __init__(self) -> None:
        self._tasks: dict[int, Task] = {}
        self._events: list[TaskEvent] = []
        self._counters: dict[str, int] = {}

    # No awaits inside the methods below: each one is atomic, like a transaction.

    async def create(self, draft: TaskDraft, event: EventDraft, at: datetime) -> Applied:
        key = draft.key or self._next_key(draft.key_prefix)
        if self._taken(key, draft.tracker_id):
            raise DuplicateTask(f"A task for {draft.key or draft.tracker_id} exists already.")
        task = Task(
            id=len(self._tasks) + 1,
            key=key,
            repo=draft.repo,
            title=draft.title,
            stage=draft.stage,
            version=1,
            created_at=at,
            updated_at=at,
            stage_entered_at=at,
            description=draft.description,
            branch=f"orch/{key.lower()}",
            tracker_id=draft.tracker_id,
            source=draft.source,
        )
        return self._store(task, None, event, at)

    async def compare_and_set(
        self,
        task_id: int,
        expected_version: int,
        change: TaskChange,
        event: EventDraft,
        at: datetime,
    ) -> Applied | None:
        before = self._tasks.get(task_id)
        if before is None or before.version != expected_version:
            return None
        if (change.stage == BLOCKED) != (change.blocked_from is not None):
            raise StorageError("CHECK constraint failed: blocked <=> blocked_from")
        task = replace(
            before,
            stage=change.stage,
            blocked_from=change.blocked_from,
            reason=change.reason,
            title=before.title if change.title is None else change.title,
            description=before.description if change.description is None else change.description,
            version=before.version + 1,
            updated_at=at,
            stage_entered_at=before.stage_entered_at if before.stage == change.stage else at,
        )
        return self._store(task, before.stage, event, at)

    async def get(self, task_id: int) -> Task | None:
        return self._tasks.get(task_id)

    def peek(self, task_id: int) -> Task | None:
        """The task without an await: other fakes read stages atomically, as SQL joins."""
        return self._tasks.get(task_id)

    async def find(self, *, key: str | None = None, tracker_id: str | None = None) -> Task | None:
        if key is not None:
            return next((t for t in self._tasks.values() if t.key == key.upper()), None)
        if tracker_id is not None:
            return next((t for t in self._tasks.values() if t.tracker_id == tracker_id), None)
        return None

    async def list_open(self) -> Sequence[Task]:
        alive = [t for t in self._tasks.values() if t.stage not in TERMINAL]
        return sorted(alive, key=lambda t: (t.stage_entered_at, t.id))

    async def events(self, task_id: int, limit: int = 50) -> Sequence[TaskEvent]:
        own = [e for e in self._events if e.task_id == task_id]
        return own[max(len(own) - limit, 0) :] if limit >= 0 else own  # as SQL's LIMIT

    def _next_key(self, prefix: str) -> str:
        """Like SqliteTaskStore: a number is used up even if the insert then fails, and a
        number whose key is taken already is skipped."""
        while True:
            self._counters[prefix] = self._counters.get(prefix, 0) + 1
            key = f"{prefix}-{self._counters[prefix]}"
            if not self._taken(key, None):
                return key

    def _taken(self, key: str, tracker_id: str | None) -> bool:
        return any(
            t.key == key or (tracker_id is not None and t.tracker_id == tracker_id)
            for t in self._tasks.values()
        )

    def _store(
        self, task: Task, from_stage: str | None, draft: EventDraft, at: datetime
    ) -> Applied:
        event = TaskEvent(
            id=len(self._events) + 1,
            task_id=task.id,
            key=task.key,
            at=at,
            actor=draft.actor,
            kind=draft.kind,
            from_stage=from_stage,
            to_stage=task.stage,
            version=task.version,
            reason=draft.reason,
        )
        self._tasks[task.id] = task
        self._events.append(event)
        return Applied(task, event)


@dataclass
class RecordingNotifier:
    """Keeps every (event, task) it is given; raises `fail_with` after recording, if set."""

    published: list[tuple[TaskEvent, Task]] = field(default_factory=list)
    fail_with: Exception | None = None

    def publish(self, event: TaskEvent, task: Task) -> None:
        self.published.append((event, task))
        if self.fail_with is not None:
            raise self.fail_with

    @property
    def kinds(self) -> list[str]:
        return [event.kind for event, _ in self.published]


# --- jobs, runs and dependencies -------------------------------------------------------
# Each mirrors its SQLite adapter's rules; tests/integration/test_job_store_contract.py
# and test_dependency_store_contract.py run both against the same expectations.


@dataclass
class _Edge:
    source: str
    created_at: datetime
    satisfied_at: datetime | None = None


class InMemoryDependencyStore:
    """A DependencyStore in a dict, reading task stages from an InMemoryTaskStore."""

    def __init__(self, tasks: InMemoryTaskStore) -> None:
        self._tasks = tasks
        self._edges: dict[tuple[int, int], _Edge] = {}
        # (task id, item id) → [key, released, reported]: waits on items without a task
        self._items: dict[tuple[int, str], list[Any]] = {}

    async def replace_items(self, task_id: int, blockers: Collection[ItemBlocker],
                            at: datetime) -> tuple[list[str], list[str]]:
        wanted = {b.item_id: b for b in blockers}
        present = {i for (t, i) in self._items if t == task_id}
        for item_id in present - set(wanted):
            del self._items[(task_id, item_id)]
        for b in wanted.values():
            old = self._items.get((task_id, b.item_id))
            reported = (old[2] if old else b.released) and b.released
            self._items[(task_id, b.item_id)] = [b.key, b.released, reported]
        return sorted(set(wanted) - present), sorted(present - set(wanted))

    async def open_item_blockers(self) -> set[str]:
        return {i for (_, i), edge in self._items.items() if not edge[1]}

    async def item_moved(self, item_id: str, group: str, released: bool, at: datetime) -> None:
        for (_, i), edge in self._items.items():
            if i == item_id:
                edge[1], edge[2] = released, edge[2] and released

    async def add(self, task_id: int, depends_on: int, source: str, at: datetime) -> bool:
        return self._add(task_id, depends_on, source, at)

    async def remove(self, task_id: int, depends_on: int) -> bool:
        return self._edges.pop((task_id, depends_on), None) is not None

    async def replace(self, task_id: int, source: str, depends_on: Collection[int],
                      at: datetime) -> tuple[list[int], list[int]]:
        wanted = set(depends_on)
        present = {d for (t, d), e in self._edges.items() if t == task_id and e.source == source}
        removed = sorted(present - wanted)
        for dep in removed:
            del self._edges[(task_id, dep)]
        added = [d for d in sorted(wanted - present) if self._add(task_id, d, source, at)]
        return added, removed

    async def links(self, task_id: int) -> tuple[list[DepLink], list[DepLink]]:
        ups = [self._link(d, e) for (t, d), e in self._edges.items() if t == task_id]
        downs = [self._link(t, e) for (t, d), e in self._edges.items() if d == task_id]
        return sorted(ups, key=lambda x: x.key), sorted(downs, key=lambda x: x.key)

    async def edges(self) -> list[tuple[int, int]]:
        return list(self._edges)

    async def release_done(self, at: datetime) -> list[Satisfied]:
        by_task: dict[int, list[str]] = {}
        for (task_id, dep), edge in self._edges.items():
            if edge.satisfied_at is None and self._done(dep):
                edge.satisfied_at = at
                by_task.setdefault(task_id, []).append(self._key(dep))
        for (task_id, _), item in self._items.items():
            if item[1] and not item[2]:
                item[2] = True
                by_task.setdefault(task_id, []).append(item[0])
        return [Satisfied(t, tuple(sorted(keys)), not self._unmet(t))
                for t, keys in by_task.items()]

    async def unmet(self, task_ids: Collection[int]) -> dict[int, list[str]]:
        found = {t: self._unmet(t) for t in task_ids}
        return {t: keys for t, keys in found.items() if keys}

    def _add(self, task_id: int, depends_on: int, source: str, at: datetime) -> bool:
        if task_id == depends_on:
            raise StorageError("CHECK constraint failed: task_id != depends_on")
        if self._tasks.peek(task_id) is None or self._tasks.peek(depends_on) is None:
            raise StorageError("FOREIGN KEY constraint failed")
        if (task_id, depends_on) in self._edges:
            return False
        satisfied = at if self._done(depends_on) else None
        self._edges[(task_id, depends_on)] = _Edge(source, at, satisfied)
        return True

    def _unmet(self, task_id: int) -> list[str]:
        deps = [d for (t, d) in self._edges if t == task_id and not self._done(d)]
        items = [e[0] for (t, _), e in self._items.items() if t == task_id and not e[1]]
        return sorted([*(self._key(d) for d in deps), *items])

    def _done(self, task_id: int) -> bool:
        task = self._tasks.peek(task_id)
        return task is not None and task.stage == DONE

    def _key(self, task_id: int) -> str:
        task = self._tasks.peek(task_id)
        return task.key if task else f"#{task_id}"

    def _link(self, task_id: int, edge: _Edge) -> DepLink:
        task = self._tasks.peek(task_id)
        assert task is not None
        return DepLink(task.id, task.key, task.stage, edge.source)


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
        status = RunStatus.SUCCEEDED if end.succeeded else RunStatus.FAILED
        self._put_run(replace(run, status=status, completed_at=at, updated_at=at,
                              exit_code=end.exit_code, duration_s=end.duration_s,
                              error=end.error, log_path=end.log_path, result=dict(end.result)))
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
        same_repo = sum(1 for r in running if r.repo == job.repo)
        if limits.per_repo is not None and same_repo >= limits.per_repo:
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
                  started_at=at, updated_at=at)
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


@dataclass
class ScriptedRunner:
    """An AgentRunner that answers from a script per role (default: success, no result)
    and records every request; `hold` makes runs wait until it is set."""

    script: dict[str, list[tuple[RunOutcome, dict[str, Any]]]] = field(default_factory=dict)
    requests: list[AgentRequest] = field(default_factory=list)
    hold: asyncio.Event | None = None
    started: asyncio.Event = field(default_factory=asyncio.Event)  # set when a run begins

    def then(self, role: str, outcome: RunOutcome, **structured: Any) -> ScriptedRunner:
        self.script.setdefault(role, []).append((outcome, structured))
        return self

    async def run(self, request: AgentRequest, command: AgentCommand) -> AgentResult:
        self.requests.append(request)
        self.started.set()
        if self.hold is not None:
            await self.hold.wait()
        queue = self.script.get(request.role) or []
        outcome, structured = queue.pop(0) if queue else (RunOutcome.SUCCEEDED, {})
        error = None if outcome is RunOutcome.SUCCEEDED else f"{request.role} said {outcome}"
        return AgentResult(outcome, 0 if error is None else 1, 0.1, error, request.log_path,
                           structured)

    def roles(self) -> list[str]:
        return [r.role for r in self.requests]


@dataclass
class FakeWorktrees:
    """Worktrees that are plain directories under `root`; `fail_with` makes prepare fail."""

    root: Path
    fail_with: Exception | None = None
    prepared: list[str] = field(default_factory=list)

    async def prepare(self, task: Task) -> Path:
        if self.fail_with is not None:
            raise self.fail_with
        self.prepared.append(task.key)
        path = self.root / task.key
        path.mkdir(parents=True, exist_ok=True)
        return path


@dataclass
class RecordingLessons:
    """The lessons hooks and feed the stage engine takes, recording their calls."""

    lines: list[str] = field(default_factory=list)
    gate_failures: list[tuple[str, str, str, str]] = field(default_factory=list)
    retries_spent: list[tuple[str, str, str]] = field(default_factory=list)
    fail: bool = False

    async def open_lessons(self, repo: str, stage: str, limit: int) -> list[str]:
        if self.fail:
            raise RuntimeError("journal down")
        return self.lines[:limit]

    async def on_gate_failure(self, task: Task, stage: str, role: str | None, gate: str,
                              reason: str) -> None:
        self.gate_failures.append((task.key, stage, gate, reason))
        if self.fail:
            raise RuntimeError("journal down")

    async def on_retries_spent(self, task: Task, stage: str, role: str | None,
                               reason: str) -> None:
        self.retries_spent.append((task.key, stage, reason))
        if self.fail:
            raise RuntimeError("journal down")


# --- the tracker side of the reconciler ---------------------------------------------

TEAM_STATES: tuple[tuple[str, StateGroup], ...] = (
    ("Backlog", StateGroup.BACKLOG),
    ("Todo", StateGroup.UNSTARTED),
    ("Approved", StateGroup.UNSTARTED),
    ("In Progress", StateGroup.STARTED),
    ("Doing", StateGroup.STARTED),  # a second started state no logical key points at
    ("In Review", StateGroup.STARTED),
    ("Blocked", StateGroup.STARTED),
    ("Done", StateGroup.COMPLETED),
    ("Cancelled", StateGroup.CANCELLED),
)


@dataclass
class FakeMeter:
    """The counters a PlaneClient keeps, for the reconciler's /queue block."""

    calls: int = 0
    rate_limit_waits: int = 0
    last_error: str | None = None


class FakeTracker:
    """A Tracker in dicts: one project with the team's states, items listed newest change
    first in offset pages, idempotent comments. `down` makes every call raise it."""

    def __init__(self, identifier: str = "PROJ", project_id: str = "p-1") -> None:
        self.project = TrackerProject(project_id, identifier, identifier)
        self.state_list = [
            TrackerState(f"s-{name.lower().replace(' ', '-')}", name, group)
            for name, group in TEAM_STATES
        ]
        self.items: dict[str, WorkItem] = {}
        self.blockers: dict[str, tuple[str, ...]] = {}
        self.comments: dict[str, tuple[str, str]] = {}  # external id → (item id, html)
        self.comment_posts = 0  # POSTs, 409 twins included
        self.writes: list[tuple[str, str]] = []  # (item id, state id) set by orch
        self.down: Exception | None = None
        self.fail_comments = 0  # the next N comment posts fail
        self.stats = FakeMeter()
        self.requests: Counter[str] = Counter()
        self._stamp = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
        self._sequence = 0

    # -- the scene -------------------------------------------------------------------

    def state_id(self, name: str) -> str:
        return next(s.id for s in self.state_list if s.name == name)

    def add(self, name: str, state: str = "Backlog", description: str = "") -> WorkItem:
        self._sequence += 1
        item = WorkItem(
            id=f"i-{self._sequence}", project_id=self.project.id,
            key=f"{self.project.identifier}-{self._sequence}", sequence_id=self._sequence,
            name=name, state_id=self.state_id(state), updated_at=self._next_stamp(),
            description=description, priority="none")
        self.items[item.id] = item
        return item

    def move(self, key: str, state: str) -> WorkItem:
        return self._change(self.item_by_key(key).id, self.state_id(state))

    def touch(self, key: str) -> WorkItem:
        """A change that is not a state change (a comment, a relation, a title)."""
        item = self.item_by_key(key)
        return self._change(item.id, item.state_id)

    def delete(self, key: str) -> None:
        del self.items[self.item_by_key(key).id]

    def item_by_key(self, key: str) -> WorkItem:
        return next(i for i in self.items.values() if i.key == key)

    # -- the port --------------------------------------------------------------------

    async def projects(self) -> list[TrackerProject]:
        self._call("projects")
        return [self.project]

    async def states(self, project_id: str) -> list[TrackerState]:
        self._call("states")
        return list(self.state_list)

    async def items_page(self, project_id: str, *, cursor: str | None = None,
                         per_page: int = 100, order_by: str = "-updated_at") -> ItemPage:
        self._call("items_page")
        rows = sorted(self.items.values(), key=lambda i: i.updated_at, reverse=True)
        start = int(cursor or 0)
        more = start + per_page < len(rows)
        return ItemPage(tuple(rows[start:start + per_page]), str(start + per_page) if more
                        else None)

    async def item(self, project_id: str, item_id: str) -> WorkItem:
        self._call("item")
        found = self.items.get(item_id)
        if found is None:
            raise TrackerRejected("Plane refused GET (404): not found", 404)
        return found

    async def relations(self, project_id: str, item_id: str) -> Relations:
        self._call("relations")
        return Relations(blocked_by=self.blockers.get(item_id, ()))

    async def set_state(self, project_id: str, item_id: str, state_id: str) -> None:
        self._call("set_state")
        self.writes.append((item_id, state_id))
        self._change(item_id, state_id)

    async def comment(self, project_id: str, item_id: str, html: str, external_id: str) -> str:
        self._call("comment")
        if self.fail_comments:
            self.fail_comments -= 1
            raise TrackerUnavailable("Plane POST comments failed 4 times; last: 502")
        self.comment_posts += 1
        self.comments.setdefault(external_id, (item_id, html))
        self._change(item_id, self.items[item_id].state_id)  # Plane bumps updated_at
        return external_id

    def _call(self, what: str) -> None:
        self.stats.calls += 1
        self.requests[what] += 1
        if self.down is not None:
            self.stats.last_error = str(self.down)
            raise self.down

    def _change(self, item_id: str, state_id: str) -> WorkItem:
        item = replace(self.items[item_id], state_id=state_id, updated_at=self._next_stamp())
        self.items[item_id] = item
        return item

    def _next_stamp(self) -> datetime:
        self._stamp += timedelta(minutes=1)  # people move items minutes apart
        return self._stamp


class InMemorySyncStore:
    """A SyncStore in dicts, with SqliteSyncStore's behaviour."""

    def __init__(self) -> None:
        self.items: dict[str, ItemRecord] = {}
        self.positions: dict[str, SyncPosition] = {}
        self.fail_saves = 0  # the next N saves raise StorageError

    async def records(self, project_id: str) -> dict[str, ItemRecord]:
        return {k: r for k, r in self.items.items() if r.project_id == project_id}

    async def record(self, item_id: str) -> ItemRecord | None:
        return self.items.get(item_id)

    async def save(self, record: ItemRecord, at: datetime) -> None:
        if self.fail_saves:
            self.fail_saves -= 1
            raise StorageError("disk I/O error")
        self.items[record.item_id] = record

    async def note_written(self, item_id: str, state_id: str, at: datetime) -> None:
        if (record := self.items.get(item_id)) is not None:
            self.items[item_id] = replace(record, written_state_id=state_id)

    async def forget(self, item_id: str) -> None:
        self.items.pop(item_id, None)

    async def position(self, project_id: str) -> SyncPosition:
        return self.positions.get(project_id, SyncPosition())

    async def save_position(self, project_id: str, position: SyncPosition, at: datetime) -> None:
        self.positions[project_id] = position


@dataclass
class RecordingDependencies:
    """A DependencySink that keeps what it was told; raises `fail_for` task keys."""

    told: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    fail_for: set[str] = field(default_factory=set)

    async def ingest_relations(self, task: Task, blocked_by_keys: Iterable[str]) -> None:
        if task.key in self.fail_for:
            raise StorageError(f"cannot store the dependencies of {task.key}")
        self.told.append((task.key, tuple(blocked_by_keys)))
