"""The job and run stores' contract: the fake and SQLite (a real file) pass all of it.

The claim is the heart: oldest runnable first, the global and per-repo limits, the
dependency gate (a waiting job never takes a slot), the task's stage; then the run
lifecycle (append-only once terminal) and the sweep (each job requeued once).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.errors import JobConflict
from core.jobs.model import (
    RESTARTED,
    Claim,
    ClaimLimits,
    Failure,
    JobContext,
    JobDraft,
    JobStatus,
    JobUpdate,
    RunEnd,
    RunStatus,
)
from core.pipeline.tasks import ChangeKind, Task
from core.ports import EventDraft, TaskChange, TaskDraft
from storage.database import Database, IntegrityViolation
from storage.dependencies import SqliteDependencyStore
from storage.jobs import SqliteJobStore
from storage.tasks import SqliteTaskStore
from tests.fakes import InMemoryDependencyStore, InMemoryJobStore, InMemoryTaskStore

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
ME, OTHER = "host:1:me", "host:2:other"
WIDE = ClaimLimits(max_running=10)


@dataclass
class Stores:
    tasks: Any
    jobs: Any
    deps: Any

    async def task(self, key: str, stage: str = "development", repo: str = "api") -> Task:
        applied = await self.tasks.create(
            TaskDraft(repo=repo, title=key, stage="queued", key=key),
            EventDraft("system", ChangeKind.CREATED), T0)
        return await self.move(applied.task, stage)

    async def move(self, task: Task, stage: str) -> Task:
        applied = await self.tasks.compare_and_set(
            task.id, task.version, TaskChange(stage, None, None),
            EventDraft("engine", ChangeKind.ADVANCED), T0)
        assert applied is not None
        return applied.task

    async def job(self, task: Task, at: datetime = T0, role: str = "developer",
                  **context: Any) -> Any:
        draft = JobDraft(task.id, task.stage, role, task.repo, task.version, at,
                         JobContext(**context))
        return await self.jobs.enqueue(draft, T0)

    async def claim(self, limits: ClaimLimits = WIDE, at: datetime = T0,
                    owner: str = ME) -> Claim | None:
        return await self.jobs.claim(owner, at, limits)


@pytest.fixture(params=["memory", "sqlite"])
def stores(request: pytest.FixtureRequest) -> Stores:
    if request.param == "memory":
        tasks = InMemoryTaskStore()
        deps = InMemoryDependencyStore(tasks)
        return Stores(tasks, InMemoryJobStore(tasks, deps), deps)
    db: Database = request.getfixturevalue("database")
    return Stores(SqliteTaskStore(db), SqliteJobStore(db), SqliteDependencyStore(db))


def claimed_keys(claims: list[Claim | None], tasks: dict[int, str]) -> list[str]:
    return [tasks[c.job.task_id] for c in claims if c is not None]


# --- enqueue ------------------------------------------------------------------------


async def test_enqueue_keeps_the_draft_and_its_context(stores: Stores) -> None:
    task = await stores.task("A-1")

    job = await stores.job(task, rollback_reason="tests failed", lessons=("pin deps",))

    assert (job.status, job.attempts, job.transient_attempts) == (JobStatus.QUEUED, 0, 0)
    assert (job.stage, job.role, job.repo, job.task_version) == (
        "development", "developer", "api", task.version)
    assert job.context == JobContext("tests failed", ("pin deps",))
    assert await stores.jobs.open_job(task.id) == job
    assert await stores.jobs.latest_job(task.id, "development") == job


async def test_one_open_job_per_task(stores: Stores) -> None:
    task = await stores.task("A-1")
    await stores.job(task)

    with pytest.raises(JobConflict):
        await stores.job(task)
    await stores.jobs.cancel_queued(task.id, T0)
    assert (await stores.job(task)).status is JobStatus.QUEUED


# --- claim --------------------------------------------------------------------------


async def test_claim_takes_the_oldest_due_job_first(stores: Stores) -> None:
    later = await stores.task("A-1")
    first = await stores.task("A-2")
    future = await stores.task("A-3")
    await stores.job(later, T0 + timedelta(seconds=5))
    await stores.job(first, T0)
    await stores.job(future, T0 + timedelta(hours=1))
    names = {later.id: "later", first.id: "first", future.id: "future"}

    claims = [await stores.claim(at=T0 + timedelta(minutes=1)) for _ in range(3)]

    assert claimed_keys(claims, names) == ["first", "later"]
    assert claims[2] is None


async def test_claim_respects_the_global_limit(stores: Stores) -> None:
    tasks = [await stores.task(f"A-{n}") for n in range(4)]
    for task in tasks:
        await stores.job(task)
    limits = ClaimLimits(max_running=2)

    claims = [await stores.claim(limits) for _ in range(3)]

    assert [c is not None for c in claims] == [True, True, False]
    first = claims[0]
    assert first is not None
    await stores.jobs.finish(first.run.id, first.job.id, RunEnd(True),
                             JobUpdate(JobStatus.SUCCEEDED), T0)
    assert await stores.claim(limits) is not None


async def test_claim_respects_the_per_repo_limit(stores: Stores) -> None:
    api = [await stores.task(f"API-{n}", repo="api") for n in range(2)]
    web = await stores.task("WEB-1", repo="web")
    for task in (*api, web):
        await stores.job(task)
    names = {api[0].id: "api", api[1].id: "api2", web.id: "web"}

    claims = [await stores.claim(ClaimLimits(10, per_repo=1)) for _ in range(3)]

    assert claimed_keys(claims, names) == ["api", "web"]


async def test_claim_respects_the_per_stage_limit(stores: Stores) -> None:
    dev = [await stores.task(f"DEV-{n}") for n in range(2)]
    review = await stores.task("REV-1", stage="review")
    await stores.job(dev[0])
    await stores.job(dev[1], T0 + timedelta(seconds=1))
    await stores.job(review, T0 + timedelta(seconds=2), role="reviewer")
    names = {dev[0].id: "dev", dev[1].id: "dev2", review.id: "review"}
    limits = ClaimLimits(10, per_stage={"development": 1})

    claims = [await stores.claim(limits, at=T0 + timedelta(seconds=3)) for _ in range(3)]

    assert claimed_keys(claims, names) == ["dev", "review"]


async def test_claim_respects_the_per_role_limit_and_a_zero_closes_the_role(
    stores: Stores,
) -> None:
    tasks = [await stores.task(f"A-{n}") for n in range(3)]
    for n, task in enumerate(tasks):
        await stores.job(task, T0 + timedelta(seconds=n), role="tester" if n else "developer")
    names = {tasks[0].id: "dev", tasks[1].id: "test", tasks[2].id: "test2"}
    at = T0 + timedelta(seconds=5)

    closed = await stores.claim(ClaimLimits(10, per_role={"developer": 0, "tester": 0}), at=at)
    claims = [await stores.claim(ClaimLimits(10, per_role={"tester": 1}), at=at)
              for _ in range(3)]

    assert closed is None
    assert claimed_keys(claims, names) == ["dev", "test"]


async def test_a_job_waiting_for_a_dependency_never_takes_a_slot(stores: Stores) -> None:
    a = await stores.task("A-1")
    b = await stores.task("B-1")
    c = await stores.task("C-1")
    await stores.deps.add(b.id, a.id, "local", T0)
    await stores.job(b)  # the oldest job, but B waits for A
    await stores.job(c, T0 + timedelta(seconds=1))
    names = {a.id: "A", b.id: "B", c.id: "C"}
    limits = ClaimLimits(max_running=1)

    first = await stores.claim(limits, at=T0 + timedelta(seconds=2))

    assert claimed_keys([first], names) == ["C"]
    assert first is not None
    await stores.jobs.finish(first.run.id, first.job.id, RunEnd(True),
                             JobUpdate(JobStatus.SUCCEEDED), T0)
    assert await stores.claim(limits, at=T0 + timedelta(seconds=2)) is None
    await stores.move(a, "done")
    assert claimed_keys([await stores.claim(limits)], names) == ["B"]


async def test_the_gate_is_inert_when_switched_off(stores: Stores) -> None:
    a, b = await stores.task("A-1"), await stores.task("B-1")
    await stores.deps.add(b.id, a.id, "local", T0)
    await stores.job(b)

    claim = await stores.claim(ClaimLimits(10, deps_enabled=False))

    assert claim is not None and claim.job.task_id == b.id


async def test_a_job_whose_task_left_its_stage_is_not_claimed(stores: Stores) -> None:
    task = await stores.task("A-1")
    await stores.job(task)
    await stores.move(task, "review")

    assert await stores.claim() is None


# --- runs ---------------------------------------------------------------------------


async def test_a_claim_opens_a_pending_run(stores: Stores) -> None:
    task = await stores.task("A-1")
    await stores.job(task)

    claim = await stores.claim()

    assert claim is not None
    assert (claim.job.status, claim.job.attempts, claim.job.owner) == (JobStatus.RUNNING, 1, ME)
    run = claim.run
    assert (run.status, run.attempt, run.owner, run.started_at) == (
        RunStatus.PENDING, 1, ME, T0)
    assert run.completed_at is None
    assert await stores.jobs.find_open_run(task.id, "development") == run


async def test_a_run_goes_running_then_terminal_with_its_record(stores: Stores) -> None:
    task = await stores.task("A-1")
    await stores.job(task)
    claim = await stores.claim()
    assert claim is not None
    at = T0 + timedelta(minutes=3)

    await stores.jobs.mark_running(claim.run.id, T0 + timedelta(seconds=1))
    assert (await stores.jobs.find_open_run(task.id, "development")).status is RunStatus.RUNNING
    end = RunEnd(False, exit_code=3, duration_s=2.5, error="boom", log_path="/l/run-1.log",
                 result={"summary": "no"})
    update = JobUpdate(JobStatus.FAILED, last_error="boom", failure=Failure.PERMANENT)
    assert await stores.jobs.finish(claim.run.id, claim.job.id, end, update, at)

    run = await stores.jobs.last_run(claim.job.id)
    assert (run.status, run.exit_code, run.duration_s, run.error, run.log_path, run.result) == (
        RunStatus.FAILED, 3, 2.5, "boom", "/l/run-1.log", {"summary": "no"})
    assert run.completed_at == at
    job = await stores.jobs.latest_job(task.id, "development")
    assert (job.status, job.failure, job.last_error, job.owner) == (
        JobStatus.FAILED, Failure.PERMANENT, "boom", None)
    assert await stores.jobs.find_open_run(task.id, "development") is None
    assert not await stores.jobs.finish(claim.run.id, claim.job.id, RunEnd(True),
                                        JobUpdate(JobStatus.SUCCEEDED), at)
    assert (await stores.jobs.last_run(claim.job.id)).status is RunStatus.FAILED


async def test_a_transient_end_requeues_for_later_and_a_retry_is_a_new_run(
        stores: Stores) -> None:
    task = await stores.task("A-1")
    await stores.job(task)
    claim = await stores.claim()
    assert claim is not None
    later = T0 + timedelta(seconds=90)

    await stores.jobs.finish(claim.run.id, claim.job.id, RunEnd(False, error="flaky"),
                             JobUpdate(JobStatus.QUEUED, not_before=later,
                                       transient_attempts=1, last_error="flaky"), T0)

    assert await stores.claim(at=T0 + timedelta(seconds=89)) is None
    again = await stores.claim(at=later)
    assert again is not None
    assert (again.job.attempts, again.job.transient_attempts, again.run.attempt) == (2, 1, 2)
    assert again.run.id != claim.run.id


# --- sweep --------------------------------------------------------------------------


async def test_sweep_fails_a_dead_owners_run_and_requeues_its_job_once(stores: Stores) -> None:
    task = await stores.task("A-1")
    await stores.job(task)
    claim = await stores.claim(owner=OTHER)
    assert claim is not None
    assert await stores.jobs.open_run_owners() == [OTHER]
    at = T0 + timedelta(seconds=30)

    swept = await stores.jobs.sweep_stale(owner=ME, cutoff=T0 - timedelta(hours=1),
                                          dead_owners=[OTHER], reason=RESTARTED, at=at)
    again = await stores.jobs.sweep_stale(owner=ME, cutoff=at, dead_owners=[OTHER],
                                          reason=RESTARTED, at=at)

    assert [(s.run_id, s.job_id, s.requeued) for s in swept] == [
        (claim.run.id, claim.job.id, True)]
    assert again == []
    run = await stores.jobs.last_run(claim.job.id)
    assert (run.status, run.error, run.completed_at) == (RunStatus.FAILED, RESTARTED, at)
    job = await stores.jobs.open_job(task.id)
    assert (job.status, job.not_before, job.owner) == (JobStatus.QUEUED, at, None)
    assert not await stores.jobs.finish(claim.run.id, claim.job.id, RunEnd(True),
                                        JobUpdate(JobStatus.SUCCEEDED), at)
    assert (await stores.jobs.open_job(task.id)).status is JobStatus.QUEUED


async def test_sweep_takes_stale_runs_of_live_owners_but_never_its_own(stores: Stores) -> None:
    mine, theirs = await stores.task("A-1"), await stores.task("A-2")
    await stores.job(mine)
    await stores.job(theirs)
    await stores.claim(owner=ME)
    await stores.claim(owner=OTHER)

    fresh = await stores.jobs.sweep_stale(owner=ME, cutoff=T0, dead_owners=[],
                                          reason=RESTARTED, at=T0)
    stale = await stores.jobs.sweep_stale(owner=ME, cutoff=T0 + timedelta(hours=2),
                                          dead_owners=[], reason=RESTARTED, at=T0)

    assert fresh == []
    assert [s.task_id for s in stale] == [theirs.id]
    assert await stores.jobs.find_open_run(mine.id, "development") is not None


# --- /queue -------------------------------------------------------------------------


async def test_overview_lists_queued_in_claim_order_and_running(stores: Stores) -> None:
    a, b, c = [await stores.task(f"A-{n}") for n in (1, 2, 3)]
    await stores.deps.add(c.id, a.id, "local", T0)
    await stores.job(a)
    await stores.job(b, T0 + timedelta(minutes=5))
    await stores.job(c, T0 + timedelta(minutes=1))
    await stores.claim(at=T0)

    view = await stores.jobs.overview(T0, WIDE)

    assert [(q.key, q.waits_for_deps) for q in view.queued] == [("A-3", True), ("A-2", False)]
    assert [(r.key, r.attempt, r.started_at) for r in view.running] == [("A-1", 1, T0)]


# --- SQLite only: the schema's own guarantees ---------------------------------------


async def test_the_trigger_refuses_to_change_a_terminal_run(database: Database) -> None:
    stores = Stores(SqliteTaskStore(database), SqliteJobStore(database),
                    SqliteDependencyStore(database))
    await stores.job(await stores.task("A-1"))
    claim = await stores.claim()
    assert claim is not None
    await stores.jobs.finish(claim.run.id, claim.job.id, RunEnd(True),
                             JobUpdate(JobStatus.SUCCEEDED), T0)

    for sql in ("UPDATE runs SET status = 'running', completed_at = NULL WHERE id = ?",
                "UPDATE runs SET error = 'rewritten' WHERE id = ?",
                "DELETE FROM runs WHERE id = ?"):
        with pytest.raises(IntegrityViolation, match="terminal"):
            async with database.transaction() as tx:
                await tx.execute(sql, (claim.run.id,))
    assert (await stores.jobs.last_run(claim.job.id)).error is None


async def test_the_schema_allows_one_open_run_per_job(database: Database) -> None:
    stores = Stores(SqliteTaskStore(database), SqliteJobStore(database),
                    SqliteDependencyStore(database))
    await stores.job(await stores.task("A-1"))
    claim = await stores.claim()
    assert claim is not None

    with pytest.raises(IntegrityViolation):
        async with database.transaction() as tx:
            await tx.execute(
                "INSERT INTO runs (job_id, task_id, stage, attempt, owner, started_at,"
                " updated_at) VALUES (?, ?, 'development', 2, 'x', 'now', 'now')",
                (claim.job.id, claim.job.task_id))
