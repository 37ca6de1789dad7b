"""People win over orch, and Plane's blockers are honoured whoever tracks them: the
reconciler with a real PlaneClient against the Plane emulator over HTTP, SQLite under
the tasks, jobs and dependencies, the real stage engine claiming and finishing jobs."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from core.config import AgentCommand, Settings
from core.deps.service import DependencyService
from core.jobs.agents import AgentResult, RunOutcome
from core.jobs.config import JobsConfig
from core.jobs.engine import StageEngine
from core.jobs.model import Claim, ClaimLimits, RetryPolicy
from core.sync.reconciler import Reconciler
from storage.dependencies import SqliteDependencyStore
from storage.jobs import SqliteJobStore
from tests.plane_rig import Rig, plane_rig

ROLES = ("developer", "reviewer", "tester", "deployer")
OWNER = "test-host:1:aaaa"


@dataclass
class Works:
    rig: Rig
    deps: DependencyService
    jobs: SqliteJobStore
    engine: StageEngine | None
    reconciler: Reconciler
    tmp: Path

    async def ticks(self, n: int = 1) -> None:
        for _ in range(n):
            self.rig.clock.advance(120)
            await self.reconciler.tick()
            if self.engine is not None:
                await self.engine.drain()

    async def claim(self) -> Claim | None:
        return await self.jobs.claim(OWNER, self.rig.clock.now(), ClaimLimits(max_running=5))

    async def finish(self, claim: Claim) -> None:
        assert self.engine is not None
        result = AgentResult(RunOutcome.SUCCEEDED, 0, 1.0, None, self.tmp / "run.log", {})
        await self.engine.finish(claim, result)

    async def stage(self, key: str) -> str:
        return (await self.rig.pipeline.find(key)).stage


@asynccontextmanager
async def works(tmp_path: Path, *, jobs_enabled: bool = True) -> AsyncIterator[Works]:
    async with plane_rig(tmp_path) as rig:
        deps = DependencyService(SqliteDependencyStore(rig.db), rig.pipeline, rig.clock)
        jobs = SqliteJobStore(rig.db)
        engine = None
        if jobs_enabled:
            settings = Settings(agents={r: AgentCommand(("agent", r)) for r in ROLES})
            engine = StageEngine(rig.pipeline, jobs, JobsConfig.from_settings(settings), rig.clock,
                                 retry_policy=RetryPolicy(base_s=60, cap_s=600,
                                                          rng=random.Random(7)))
            assert rig.hub is not None
            rig.hub.subscribe(engine)
        reconciler = rig.reconciler(dependencies=deps)
        yield Works(rig, deps, jobs, engine, reconciler, tmp_path)


# --- people win ------------------------------------------------------------------------


async def test_a_block_in_plane_while_the_job_runs_wins_over_the_write_back(
        tmp_path: Path) -> None:
    async with works(tmp_path) as w:
        w.rig.emulator.add_item("ORCH", "Race", state="Approved")
        await w.ticks()
        claim = await w.claim()
        assert claim is not None and await w.stage("ORCH-1") == "development"

        w.rig.emulator.move_item("ORCH-1", "Blocked")  # a person, while the agent works
        await w.finish(claim)  # the job ends: the engine moves the task on to review
        await w.reconciler.work_off()  # the write-back reads the item before it writes
        await w.ticks(5)

        assert await w.stage("ORCH-1") == "blocked"
        assert w.rig.state_of("ORCH-1") == "Blocked"
        assert w.rig.pushes() == ["ORCH-1 blocked"]
        assert w.reconciler.writeback.stats.people_first == 1
        patches = w.rig.emulator.stats.by_route["PATCH work-item"]
        assert patches == 1  # the start only: In Review was never written


async def test_a_block_seen_by_a_tick_during_the_job_stops_the_engine_too(
        tmp_path: Path) -> None:
    async with works(tmp_path) as w:
        w.rig.emulator.add_item("ORCH", "Race", state="Approved")
        await w.ticks()
        claim = await w.claim()
        assert claim is not None

        w.rig.emulator.move_item("ORCH-1", "Blocked")
        await w.ticks()  # the reconciler sees it first: the task is blocked mid-run
        await w.finish(claim)
        await w.ticks(5)

        assert await w.stage("ORCH-1") == "blocked"
        assert w.rig.state_of("ORCH-1") == "Blocked"
        assert w.rig.pushes() == ["ORCH-1 blocked"]


# --- blockers orch does not track --------------------------------------------------------


async def blocked_scene(w: Works) -> None:
    """B (ORCH-2) approved, blocked_by A (ORCH-1) which is In Progress and has no task."""
    w.rig.emulator.add_item("ORCH", "Blocker", state="In Progress")
    w.rig.emulator.add_item("ORCH", "Blocked one", state="Approved")
    w.rig.emulator.add_relation("ORCH-2", "ORCH-1")
    await w.ticks(3)


async def test_an_untracked_blocker_in_progress_holds_the_task_then_releases_it_once(
        tmp_path: Path) -> None:
    async with works(tmp_path) as w:
        await blocked_scene(w)
        b = await w.rig.pipeline.find("ORCH-2")
        a = w.rig.emulator.item("ORCH-1")
        assert await w.rig.pipeline.find_by_tracker_item(a.id) is None  # A has no task
        assert b.stage == "development" and await w.claim() is None  # B waits
        assert await w.deps.waits([b]) == {b.id: "waits for ORCH-1"}

        w.rig.emulator.move_item("ORCH-1", "Done")
        await w.ticks(4)

        assert w.rig.pushes() == ["ORCH-2 deps_released"]
        claim = await w.claim()
        assert claim is not None and claim.job.task_id == b.id
        assert await w.deps.waits([b]) == {}


async def test_the_release_needs_no_job_loop(tmp_path: Path) -> None:
    async with works(tmp_path, jobs_enabled=False) as w:
        await blocked_scene(w)
        b = await w.rig.pipeline.find("ORCH-2")
        assert await w.deps.waits([b]) == {b.id: "waits for ORCH-1"}

        w.rig.emulator.move_item("ORCH-1", "Done")
        w.rig.clock.advance(120)
        report = await w.reconciler.tick()
        await w.ticks(4)

        assert report.released == 1
        assert w.rig.pushes() == ["ORCH-2 deps_released"]
        assert await w.deps.waits([b]) == {}


async def test_a_cancelled_blocker_releases_by_default(tmp_path: Path) -> None:
    async with works(tmp_path, jobs_enabled=False) as w:
        await blocked_scene(w)
        w.rig.emulator.move_item("ORCH-1", "Cancelled")
        await w.ticks(2)
        assert w.rig.pushes() == ["ORCH-2 deps_released"]
