"""The unmet-dependency count of every open job equals a recount from the edges, after
any sequence of edges added, removed or replaced, tasks finished, cancelled or reopened,
jobs enqueued, claimed, settled or cancelled (real SQLite; the triggers of migration
0010 keep the count). And the claim, which reads only that count, picks the job a
naive scan of every queued job would pick."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.clock import utc_iso
from core.jobs.model import ClaimLimits, JobDraft, JobStatus, JobUpdate, RunEnd
from core.pipeline.tasks import ChangeKind
from core.ports import EventDraft, TaskChange, TaskDraft
from storage.database import Database
from storage.dependencies import SqliteDependencyStore
from storage.jobs import SqliteJobStore
from storage.tasks import SqliteTaskStore

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
TASKS = 4
LIMITS = ClaimLimits(max_running=100)

task_ids = st.integers(1, TASKS)
ops = st.one_of(
    st.tuples(st.just("add"), task_ids, task_ids),
    st.tuples(st.just("remove"), task_ids, task_ids),
    st.tuples(st.just("replace"), task_ids, st.frozensets(task_ids, max_size=3)),
    st.tuples(st.just("stage"), task_ids, st.sampled_from(["development", "done", "cancelled"])),
    st.tuples(st.just("enqueue"), task_ids),
    st.tuples(st.just("claim")),
    st.tuples(st.just("settle"), task_ids, st.sampled_from(["succeeded", "queued"])),
    st.tuples(st.just("cancel_job"), task_ids),
)

RECOUNT = """
SELECT j.id, j.unmet_deps,
       (SELECT count(*) FROM task_deps d JOIN tasks a ON a.id = d.depends_on
        WHERE d.task_id = j.task_id AND a.stage != 'done') AS recount
FROM jobs j WHERE j.status IN ('queued', 'running')
"""

NAIVE_NEXT = """
SELECT j.id FROM jobs j JOIN tasks t ON t.id = j.task_id
WHERE j.status = 'queued' AND j.not_before <= :at AND t.stage = j.stage
  AND NOT EXISTS (SELECT 1 FROM task_deps d JOIN tasks a ON a.id = d.depends_on
                  WHERE d.task_id = j.task_id AND a.stage != 'done')
ORDER BY j.not_before, j.id LIMIT 1
"""


class World:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.tasks = SqliteTaskStore(db)
        self.jobs = SqliteJobStore(db)
        self.deps = SqliteDependencyStore(db)
        self.tick = 0

    @property
    def now(self) -> datetime:
        return T0 + timedelta(seconds=self.tick)

    async def setup(self) -> None:
        for n in range(1, TASKS + 1):
            applied = await self.tasks.create(
                TaskDraft(repo="api", title=f"t{n}", stage="queued", key=f"T-{n}"),
                EventDraft("system", ChangeKind.CREATED), T0)
            await self.stage(applied.task.id, "development")
            await self.op_enqueue(applied.task.id)  # every op then touches an open job

    async def stage(self, task_id: int, stage: str) -> None:
        task = await self.tasks.get(task_id)
        assert task is not None
        if task.stage != stage:
            await self.tasks.compare_and_set(task.id, task.version, TaskChange(stage, None, None),
                                             EventDraft("x", ChangeKind.NOTE), self.now)

    async def apply(self, op: tuple[Any, ...]) -> None:
        self.tick += 1
        name, *args = op
        await getattr(self, f"op_{name}")(*args)

    async def op_add(self, task_id: int, dep: int) -> None:
        if task_id != dep:
            await self.deps.add(task_id, dep, "local", self.now)

    async def op_remove(self, task_id: int, dep: int) -> None:
        await self.deps.remove(task_id, dep)

    async def op_replace(self, task_id: int, deps: frozenset[int]) -> None:
        await self.deps.replace(task_id, "plane", deps - {task_id}, self.now)

    async def op_stage(self, task_id: int, stage: str) -> None:
        await self.stage(task_id, stage)

    async def op_enqueue(self, task_id: int) -> None:
        task = await self.tasks.get(task_id)
        assert task is not None
        if await self.jobs.open_job(task_id) is None:
            await self.jobs.enqueue(JobDraft(task_id, task.stage, "developer", "api",
                                             task.version, self.now), self.now)

    async def op_claim(self) -> None:
        expected = await self.db.fetch_one(NAIVE_NEXT, {"at": utc_iso(self.now)})
        claim = await self.jobs.claim("me", self.now, LIMITS)
        assert (claim.job.id if claim else None) == (expected[0] if expected else None)

    async def op_settle(self, task_id: int, outcome: str) -> None:
        job = await self.jobs.open_job(task_id)
        if job is None or job.status is not JobStatus.RUNNING:
            return
        run = await self.jobs.last_run(job.id)
        assert run is not None
        update = JobUpdate(JobStatus(outcome), not_before=self.now)
        await self.jobs.finish(run.id, job.id, RunEnd(outcome == "succeeded"), update, self.now)

    async def op_cancel_job(self, task_id: int) -> None:
        await self.jobs.cancel_queued(task_id, self.now)

    async def mismatches(self) -> list[tuple[int, int, int]]:
        rows = await self.db.fetch_all(RECOUNT)
        return [(r["id"], r["unmet_deps"], r["recount"]) for r in rows
                if r["unmet_deps"] != r["recount"]]


async def play(path: Path, sequence: Sequence[tuple[Any, ...]]) -> None:
    db = await Database.open(path)
    try:
        world = World(db)
        await world.setup()
        for op in sequence:
            await world.apply(op)
            assert await world.mismatches() == [], f"after {op}"
    finally:
        await db.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, min_size=1, max_size=30))
def test_unmet_counts_equal_a_recount_from_the_edges(sequence: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory(prefix="orch-unmet-") as tmp:
        asyncio.run(play(Path(tmp) / "orch.db", sequence))


def test_an_edge_cannot_change_its_ends(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = await Database.open(tmp_path / "orch.db")
        try:
            world = World(db)
            await world.setup()
            await world.op_add(2, 1)
            try:
                async with db.transaction() as tx:
                    await tx.execute("UPDATE task_deps SET depends_on = 3 WHERE task_id = 2")
            except Exception as exc:
                assert "cannot change its ends" in str(exc)
            else:
                raise AssertionError("the edge's end was changed")
        finally:
            await db.close()

    asyncio.run(scenario())
