"""Agents die with orch and are judged by their exit: the guard, the recorded process
group, the result cap. Real child processes throughout; the one that plays orch is killed
with SIGKILL, not cancelled."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.config import AgentCommand
from core.integrations.agents.processes import kill_group, start_ticks
from core.integrations.agents.runner import SubprocessAgentRunner
from core.jobs.agents import AgentProcess, AgentRequest, RunOutcome
from core.jobs.config import JobsConfig
from tests.integration.test_agent_runner import _gone
from tests.pipeline_world import LEAD

ROOT = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


def _request(tmp_path: Path, run_id: int = 5) -> AgentRequest:
    worktree = tmp_path / "worktree"
    worktree.mkdir(exist_ok=True)
    return AgentRequest(task_key="ORCH-5", title="t", description="", repo="api",
                        branch="orch/orch-5", stage="development", role="developer",
                        attempt=1, run_id=run_id, worktree=worktree,
                        log_path=tmp_path / "logs" / f"run-{run_id}.log", prompt="p\n")


def _agent(tmp_path: Path, body: str, *, timeout_s: float = 30.0) -> AgentCommand:
    script = tmp_path / "agent.py"
    script.write_text(textwrap.dedent(body), encoding="utf-8")
    return AgentCommand((sys.executable, str(script)), timeout_s=timeout_s)


class Ledger:
    """Records what the runner reports, as the job store does."""

    def __init__(self) -> None:
        self.recorded: dict[int, AgentProcess] = {}

    async def record_process(self, run_id: int, process: AgentProcess) -> None:
        self.recorded[run_id] = process


async def test_an_exit_with_a_background_child_holding_stdout_is_a_success(
        tmp_path: Path) -> None:
    ledger = Ledger()
    runner = SubprocessAgentRunner(clock=ManualClock(), kill_grace_s=1.0, ledger=ledger)
    command = _agent(tmp_path, """
        import subprocess, time
        sleeper = subprocess.Popen(["sleep", "600"])   # inherits stdout and holds it
        open("sleeper.pid", "w").write(str(sleeper.pid))
        print("done, leaving a sleeper behind", flush=True)
    """, timeout_s=20.0)
    request = _request(tmp_path)

    result = await runner.run(request, command)

    # judged by the exit, not by the pipe closing: waiting for the sleeper's copy of
    # stdout would have run into the 20 s timeout (timed_out, killed) instead
    assert (result.outcome, result.exit_code, result.timed_out) == (
        RunOutcome.SUCCEEDED, 0, False)
    assert _gone(int((request.worktree / "sleeper.pid").read_text()))
    assert "leaving a sleeper behind" in request.log_path.read_text()
    process = ledger.recorded[request.run_id]
    assert process.group > 1
    if start_ticks(os.getpid()) is not None:
        assert process.started is not None


@pytest.mark.parametrize(("size", "oversize"), [(2000, True), (900, False)])
async def test_a_result_file_over_the_cap_fails_the_run_with_a_reason(
        tmp_path: Path, size: int, oversize: bool) -> None:
    runner = SubprocessAgentRunner(clock=ManualClock(), result_cap_bytes=1000)
    command = _agent(tmp_path, f"""
        import json, os
        padding = "x" * ({size} - len('{{"summary": ""}}'))
        open(os.environ["ORCH_RESULT_FILE"], "w").write(json.dumps({{"summary": padding}}))
    """)

    result = await runner.run(_request(tmp_path), command)

    if oversize:
        assert result.outcome is RunOutcome.FAILED and result.structured == {}
        assert result.error is not None and result.error.startswith(
            f"result file is {size} bytes, over the cap of 1000 (ORCH_AGENT_RESULT_MAX_BYTES)")
    else:
        assert result.outcome is RunOutcome.SUCCEEDED and result.error is None
        assert len(result.structured["summary"]) == size - len('{"summary": ""}')


_MINI_ORCH = """
import asyncio, sys
from pathlib import Path
from core.clock import ManualClock
from core.config import AgentCommand
from core.integrations.agents.runner import SubprocessAgentRunner
from core.jobs.agents import AgentRequest

async def main(tmp):
    worktree = tmp / "worktree"
    request = AgentRequest("ORCH-1", "t", "", "api", "b", "development", "developer", 1, 1,
                           worktree, tmp / "logs" / "run-1.log", "p")
    command = AgentCommand((sys.executable, str(tmp / "agent.py")), timeout_s=600)
    await SubprocessAgentRunner(clock=ManualClock()).run(request, command)

asyncio.run(main(Path(sys.argv[1])))
"""

_FAMILY = """
    import os, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open("pids.tmp", "w") as out:
        out.write(f"{os.getpid()} {child.pid}")
    os.rename("pids.tmp", "pids")
    time.sleep(600)
"""


def eventually(check: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Poll a condition about real processes until it holds or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@linux_only
def test_the_agents_whole_group_dies_when_orch_is_killed(tmp_path: Path) -> None:
    _agent(tmp_path, _FAMILY)
    (tmp_path / "worktree").mkdir()
    pids_file = tmp_path / "worktree" / "pids"
    orch = subprocess.Popen([sys.executable, "-c", _MINI_ORCH, str(tmp_path)], cwd=ROOT)
    try:
        assert eventually(pids_file.exists)
        pids = [int(p) for p in pids_file.read_text().split()]
        assert not any(_gone(pid) for pid in pids)
        orch.send_signal(signal.SIGKILL)
        orch.wait(10)
        assert eventually(lambda: all(_gone(pid) for pid in pids), 10)  # grandchild too
    finally:
        orch.kill()
        orch.wait(10)


@linux_only
def test_kill_group_kills_a_live_group_and_spares_a_reused_pid(tmp_path: Path) -> None:
    group = subprocess.Popen(["sh", "-c", "sleep 600 & sleep 600"], start_new_session=True)
    try:
        started = start_ticks(group.pid)
        assert started is not None
        assert not kill_group(group.pid, started + 1)  # someone else's process now
        assert group.poll() is None
        assert kill_group(group.pid, started)
        assert group.wait(10) == -signal.SIGKILL
    finally:
        group.kill()
        group.wait(10)


@pytest.fixture
def left() -> Iterator[subprocess.Popen[bytes]]:
    """An agent's process group as a dead orch would have left it: leader and child."""
    group = subprocess.Popen(["sh", "-c", "sleep 600 & sleep 600"], start_new_session=True)
    yield group
    group.kill()
    group.wait(10)


@linux_only
async def test_the_start_up_sweep_kills_a_recorded_group_before_requeueing_its_job(
        tmp_path: Path, clock: ManualClock, left: subprocess.Popen[bytes]) -> None:
    from core.config import Settings
    from core.integrations.agents.processes import OrphanReaper
    from core.jobs.loop import JobLoop
    from core.jobs.model import RESTARTED, ClaimLimits, JobDraft, RunStatus
    from tests.integration.test_job_loop_real import start_orch

    settings = Settings(repos_dir=str(tmp_path / "repos"))
    orch = await start_orch(tmp_path / "orch.db", settings, clock, tmp_path)
    try:
        task = await orch.pipeline.create("api", "Left running", LEAD)
        await orch.jobs.enqueue(JobDraft(task.id, task.stage, "developer", "api",
                                         task.version, clock.now()), clock.now())
        dead_owner = f"{socket.gethostname()}:{_dead_pid()}:old"
        claim = await orch.jobs.claim(dead_owner, clock.now(), ClaimLimits(2))
        assert claim is not None
        await orch.jobs.record_process(claim.run.id, AgentProcess(left.pid,
                                                                  start_ticks(left.pid)))
        loop = JobLoop(runs=orch.jobs, engine=orch.loop._engine, pipeline=orch.pipeline,
                       runner=SubprocessAgentRunner(clock=clock), worktrees=_NoWorktrees(),
                       config=JobsConfig.from_settings(settings), clock=clock,
                       reaper=OrphanReaper(orch.jobs))

        assert await loop.sweep() == 1

        assert left.wait(10) == -signal.SIGKILL
        run = await orch.jobs.get_run(claim.run.id)
        assert run is not None and (run.status, run.error) == (RunStatus.FAILED, RESTARTED)
        job = await orch.jobs.get_job(claim.job.id)
        assert job is not None and job.status == "queued"
    finally:
        await orch.db.close()


class _NoWorktrees:
    async def prepare(self, task: object) -> Path:
        raise AssertionError("the sweep runs nothing")


def _dead_pid() -> int:
    probe = subprocess.Popen(["true"])
    probe.wait(10)
    return probe.pid


async def test_a_git_lock_left_by_a_killed_run_does_not_fail_the_next(
        tmp_path: Path, clock: ManualClock) -> None:
    from core.integrations.git.workspace import GitWorkspace, run_git
    from core.integrations.git.worktrees import GitWorktrees
    from core.pipeline.tasks import Task

    now = clock.now()
    task = Task(1, "ORCH-1", "api", "t", "development", 1, now, now, now)
    worktrees = GitWorktrees(GitWorkspace(tmp_path / "repos"))
    worktree = await worktrees.prepare(task)
    git_dir = Path(await run_git(["rev-parse", "--absolute-git-dir"], cwd=worktree))
    (git_dir / "index.lock").write_text("")  # what `git commit`, SIGKILLed, leaves behind

    assert await worktrees.prepare(task) == worktree

    (worktree / "f.txt").write_text("x")
    await run_git(["add", "f.txt"], cwd=worktree)  # would fail: "index.lock: File exists"
    assert not (git_dir / "index.lock").exists()
