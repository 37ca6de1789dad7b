"""A whole pipeline over in-memory fakes: tasks, jobs, dependencies, engine, job loop.

Unit tests build one `World`, act the way people and agents would, and look at the
stores and the notifier. Nothing sleeps: time is a ManualClock, agents are scripted.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from core.clock import ManualClock
from core.config import AgentCommand, Settings
from core.deps.service import DependencyService
from core.jobs.agents import AgentResult, RunOutcome
from core.jobs.engine import StageEngine
from core.jobs.loop import JobLoop
from core.jobs.model import Claim, ClaimLimits, Job, RetryPolicy
from core.pipeline.service import PipelineService
from core.pipeline.stages import DEFAULT_PIPELINE, Pipeline
from core.pipeline.tasks import Actor, ChangeKind, Task
from core.ports import NotifierHub
from tests.fakes import (
    FakeWorktrees,
    InMemoryDependencyStore,
    InMemoryJobStore,
    InMemoryTaskStore,
    RecordingLessons,
    RecordingNotifier,
    ScriptedRunner,
)

LEAD = Actor("telegram", "7", "Lead")
ROLES = ("developer", "reviewer", "tester", "deployer")
OWNER = "test-host:1:aaaa"


def settings_for(**overrides: Any) -> Settings:
    agents = {role: AgentCommand(("agent", role)) for role in ROLES}
    base = Settings(agents=agents, max_concurrency=2, transient_max_attempts=3)
    return replace(base, **overrides)


@dataclass
class World:
    """Every part, wired the way the runtime wires them."""

    tmp: Path
    settings: Settings = field(default_factory=settings_for)
    clock: ManualClock = field(default_factory=ManualClock)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    runner: ScriptedRunner = field(default_factory=ScriptedRunner)
    lessons: RecordingLessons = field(default_factory=RecordingLessons)
    flow: Pipeline = DEFAULT_PIPELINE

    def __post_init__(self) -> None:
        self.tasks = InMemoryTaskStore()
        self.hub = NotifierHub()
        self.pipeline = PipelineService(self.tasks, self.flow, self.clock, self.hub)
        self.dep_store = InMemoryDependencyStore(self.tasks)
        self.jobs = InMemoryJobStore(self.tasks, self.dep_store)
        self.deps = DependencyService(self.dep_store, self.pipeline, self.clock,
                                      enabled=self.settings.task_deps_enabled)
        self.engine = StageEngine(
            self.pipeline, self.jobs, self.settings, self.clock, lessons=self.lessons,
            on_gate_failure=self.lessons.on_gate_failure,
            on_retries_spent=self.lessons.on_retries_spent,
            retry_policy=RetryPolicy(base_s=60, cap_s=600, rng=random.Random(7)),
        )
        self.hub.subscribe(self.notifier)
        self.hub.subscribe(self.engine)
        self.worktrees = FakeWorktrees(self.tmp / "wt")
        self.loop = self.new_loop()

    def new_loop(self, owner: str = OWNER) -> JobLoop:
        return JobLoop(runs=self.jobs, engine=self.engine, pipeline=self.pipeline,
                       runner=self.runner, worktrees=self.worktrees, settings=self.settings,
                       clock=self.clock, deps=self.deps, logs_dir=self.tmp / "logs",
                       owner=owner, is_alive=lambda _: True)

    async def approved(self, title: str = "Add retry", repo: str = "api") -> Task:
        task = await self.pipeline.create(repo, title, LEAD)
        return await self.pipeline.approve(task.id, LEAD)

    async def approve(self, task_id: int) -> Task:
        """A person presses Approve (in merge: recorded in place, the engine moves on)."""
        return await self.pipeline.approve(task_id, LEAD)

    async def task(self, task_id: int) -> Task:
        return await self.pipeline.get(task_id)

    async def open_job(self, task: Task) -> Job | None:
        return await self.jobs.open_job(task.id)

    async def finish_open_job(self, task: Task, outcome: RunOutcome = RunOutcome.SUCCEEDED,
                              **structured: Any) -> None:
        """Claim the task's job directly (no loop) and end its run with `outcome`."""
        await self.finish(await self.claim_open_job(task), outcome, **structured)

    async def claim_open_job(self, task: Task) -> Claim:
        """Claim the task's job directly (no loop): it is running until `finish`."""
        limits = ClaimLimits(max_running=100, deps_enabled=self.settings.task_deps_enabled)
        claim = await self.jobs.claim(OWNER, self.clock.now(), limits)
        assert claim is not None and claim.job.task_id == task.id, claim
        return claim

    async def finish(self, claim: Claim, outcome: RunOutcome = RunOutcome.SUCCEEDED,
                     **structured: Any) -> None:
        error = None if outcome is RunOutcome.SUCCEEDED else f"{outcome} on purpose"
        result = AgentResult(outcome, 0, 1.0, error, self.tmp / "run.log", structured)
        await self.engine.finish(claim, result)

    def kinds(self, task: Task | None = None) -> list[ChangeKind]:
        return [e.kind for e, t in self.notifier.published if task is None or t.id == task.id]

    def stages(self, task: Task) -> list[str]:
        """The stages the task entered, in order (changes in place, e.g. an approval
        recorded in merge, are not moves and are left out)."""
        return [e.to_stage for e, t in self.notifier.published
                if t.id == task.id and e.stage_changed]
