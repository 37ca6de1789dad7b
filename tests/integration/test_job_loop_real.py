"""The job loop for real: SQLite on a file, agents as subprocesses (the sandbox's script
agents and small scripts written here), git worktrees in throwaway local repositories.
Time is a ManualClock; nothing sleeps to wait for a condition."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.config import AgentCommand, Settings
from core.deps.service import DependencyService
from core.integrations.agents.runner import SubprocessAgentRunner
from core.integrations.git.workspace import GitWorkspace, run_git
from core.integrations.git.worktrees import GitWorktrees
from core.jobs.engine import StageEngine
from core.jobs.loop import JobLoop
from core.jobs.model import RESTARTED, RunStatus
from core.pacer import Pacer
from core.pipeline.service import PipelineService
from core.pipeline.stages import DEFAULT_PIPELINE, DONE
from core.pipeline.tasks import ChangeKind, Task
from core.ports import NotifierHub
from storage.database import Database
from storage.dependencies import SqliteDependencyStore
from storage.jobs import SqliteJobStore
from storage.tasks import SqliteTaskStore
from tests.fakes import ManualScheduler, RecordingNotifier
from tests.pipeline_world import LEAD

AGENTS = Path(__file__).resolve().parents[2] / "sandbox" / "agents"


def sandbox_agent(role: str) -> AgentCommand:
    return AgentCommand((sys.executable, str(AGENTS / f"{role}.py"), "{prompt_file}"),
                        timeout_s=60)


SANDBOX_AGENTS = {role: sandbox_agent(role)
                  for role in ("developer", "reviewer", "tester", "deployer")}


@dataclass
class Orch:
    """One 'process': a database connection, the services and a job loop."""

    db: Database
    tasks: SqliteTaskStore
    jobs: SqliteJobStore
    pipeline: PipelineService
    deps: DependencyService
    loop: JobLoop
    notifier: RecordingNotifier

    async def task(self, task_id: int) -> Task:
        return await self.pipeline.get(task_id)

    async def approved(self, title: str) -> Task:
        task = await self.pipeline.create("api", title, LEAD)
        return await self.pipeline.approve(task.id, LEAD)


async def start_orch(path: Path, settings: Settings, clock: ManualClock, tmp: Path) -> Orch:
    db = await Database.open(path)
    tasks, jobs = SqliteTaskStore(db), SqliteJobStore(db)
    hub, notifier = NotifierHub(), RecordingNotifier()
    pipeline = PipelineService(tasks, DEFAULT_PIPELINE, clock, hub)
    deps = DependencyService(SqliteDependencyStore(db), pipeline, clock)
    engine = StageEngine(pipeline, jobs, settings, clock)
    hub.subscribe(notifier)
    hub.subscribe(engine)
    worktrees = GitWorktrees(GitWorkspace(Path(settings.repos_dir)))
    runner = SubprocessAgentRunner(clock=clock, kill_grace_s=1.0)
    loop = JobLoop(runs=jobs, engine=engine, pipeline=pipeline, runner=runner,
                   worktrees=worktrees, settings=settings, clock=clock, deps=deps,
                   logs_dir=tmp / "logs")
    hub.subscribe(loop.watch)
    return Orch(db, tasks, jobs, pipeline, deps, loop, notifier)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(agents=SANDBOX_AGENTS, repos_dir=str(tmp_path / "repos"),
                    max_concurrency=2, transient_max_attempts=3)


@pytest.fixture
async def orch(tmp_path: Path, settings: Settings, clock: ManualClock) -> AsyncIterator[Orch]:
    orch = await start_orch(tmp_path / "orch.db", settings, clock, tmp_path)
    await orch.loop.start()
    yield orch
    await orch.loop.stop()
    await orch.db.close()


async def git_log(orch: Orch, task: Task, settings: Settings) -> list[str]:
    workspace = GitWorkspace(Path(settings.repos_dir))
    path = workspace.worktree_path(task.repo, task.branch)
    return (await run_git(["log", "--format=%s"], cwd=path)).splitlines()


async def test_sandbox_agents_take_a_task_through_the_pipeline(
        orch: Orch, settings: Settings, clock: ManualClock) -> None:
    task = await orch.approved("Add retry [bad-review] [flaky-deploy]")

    await orch.loop.settle()
    assert (await orch.task(task.id)).stage == "merge"  # waits for a person to approve
    assert await orch.jobs.latest_job(task.id, "deploy") is None  # nothing deployed yet
    await orch.pipeline.approve(task.id, LEAD)
    await orch.loop.settle()
    waiting = await orch.task(task.id)
    assert waiting.stage == "deploy"  # the deployer asked for a retry: backoff
    clock.advance(3600)
    await orch.loop.settle()

    assert (await orch.task(task.id)).stage == DONE
    kinds = [e.kind for e, _ in orch.notifier.published]
    assert kinds.count(ChangeKind.ROLLED_BACK) == 1  # the review sent it back once
    log = await git_log(orch, task, settings)
    assert log[:2] == [f"{task.key}: {task.title} (attempt 1)"] * 2  # developer ran twice
    assert log[-1] == "first commit"
    deploy = await orch.jobs.latest_job(task.id, "deploy")
    assert deploy is not None
    runs = await orch.jobs.runs_of(deploy.id)
    assert [(r.status, r.exit_code) for r in runs] == [
        (RunStatus.FAILED, 75), (RunStatus.SUCCEEDED, 0)]
    logs = [Path(r.log_path or "") for r in runs]
    assert all(await asyncio.gather(*(asyncio.to_thread(log.is_file) for log in logs)))


async def test_a_chain_of_dependencies_releases_each_task_once(orch: Orch) -> None:
    a = await orch.approved("A")
    b = await orch.approved("B")
    c = await orch.approved("C")
    await orch.deps.declare(b.key, a.key)
    await orch.deps.declare(c.key, b.key)

    for task in (a, b, c):
        await orch.loop.settle()
        assert (await orch.task(task.id)).stage == "merge"  # waits for approval
        await orch.pipeline.approve(task.id, LEAD)
    await orch.loop.settle()

    assert [(await orch.task(t.id)).stage for t in (a, b, c)] == [DONE] * 3
    released = [(t.key, e.reason) for e, t in orch.notifier.published
                if e.kind is ChangeKind.DEPS_RELEASED]
    assert released == [(b.key, f"{a.key} done"), (c.key, f"{b.key} done")]


HANGING_DEVELOPER = """
    import json, os, sys, time
    if os.environ["ORCH_ATTEMPT"] == "1":
        with open(sys.argv[1], "w") as started:
            started.write("started\\n")
        time.sleep(300)  # hangs until orch stops it
    with open(os.environ["ORCH_RESULT_FILE"], "w") as out:
        json.dump({"summary": "done after the restart"}, out)
"""


async def read_when_written(fifo: Path, timeout_s: float = 30.0) -> str:
    """The FIFO's content once a writer closes it; fails (not hangs) after the timeout."""
    reading = asyncio.ensure_future(asyncio.to_thread(fifo.read_text))
    try:
        return await asyncio.wait_for(asyncio.shield(reading), timeout_s)
    except TimeoutError:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # let the reader go
        await reading
        raise AssertionError("the agent never started") from None


async def test_a_run_cut_off_by_a_stop_is_swept_at_restart_and_requeued_once(
        tmp_path: Path, settings: Settings, clock: ManualClock) -> None:
    fifo = tmp_path / "started"
    os.mkfifo(fifo)
    script = tmp_path / "developer.py"
    script.write_text(textwrap.dedent(HANGING_DEVELOPER), encoding="utf-8")
    agents = {**SANDBOX_AGENTS, "developer": AgentCommand(
        (sys.executable, str(script), str(fifo)), timeout_s=600)}
    settings = replace(settings, agents=agents)

    first = await start_orch(tmp_path / "orch.db", settings, clock, tmp_path)
    scheduler = ManualScheduler()
    pacer = Pacer(scheduler, first.loop.tick, name="jobs", interval_s=60, first=first.loop.start)
    first.loop.wake = pacer.poke
    pacer.start()
    task = await first.approved("Survive a restart")
    await scheduler.run_soon()
    assert await read_when_written(fifo) == "started\n"
    await first.loop.stop()  # the process stops while the agent works
    cut = await first.jobs.find_open_run(task.id, "development")
    assert cut is not None and cut.status is RunStatus.RUNNING
    await first.db.close()

    second = await start_orch(tmp_path / "orch.db", settings, clock, tmp_path)
    try:
        await second.loop.start()
        assert await second.loop.sweep() == 0  # swept once, at start-up
        swept = await second.jobs.get_run(cut.id)
        assert swept is not None and (swept.status, swept.error) == (RunStatus.FAILED, RESTARTED)
        await second.loop.settle()
    finally:
        await second.loop.stop()
        await second.db.close()

    runs = await _runs_after(tmp_path / "orch.db", task)
    assert runs == [(1, "failed", RESTARTED), (2, "succeeded", None)]


async def _runs_after(path: Path, task: Task) -> list[tuple[int, str, str | None]]:
    db = await Database.open(path)
    try:
        rows = await db.fetch_all(
            "SELECT attempt, status, error FROM runs WHERE task_id = ? AND stage = ?"
            " ORDER BY id", (task.id, "development"))
        stage = await db.fetch_one("SELECT stage FROM tasks WHERE id = ?", (task.id,))
    finally:
        await db.close()
    # the job completed and the task moved on, to wait for approval in merge
    assert stage is not None and stage[0] == "merge"
    return [(r[0], r[1], r[2]) for r in rows]
