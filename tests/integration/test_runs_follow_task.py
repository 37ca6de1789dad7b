"""Runs follow their task, with real agent processes: a task moved away while its agent
works stops the agent (its process group, checked by pid), the run ends cancelled with
the reason, the card says why, and what the agent writes afterwards changes nothing.
A silent agent is stopped after its stall timeout (a ManualClock) and retried, told
why; one that prints regularly is not."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from bot import render
from core.clock import ManualClock
from core.config import AgentCommand, Settings
from core.jobs.effort import EffortView
from core.jobs.model import JobStatus, RunStatus
from core.pipeline.stages import BLOCKED, DEFAULT_PIPELINE
from core.pipeline.tasks import Actor
from storage.runs import SqliteRunLedger
from tests.integration.test_job_loop_real import SANDBOX_AGENTS, Orch, start_orch
from tests.orch_process import until

# Writes its pid, then works (printing or not) until stopped. On SIGTERM it tries to
# leave a result and a file in its worktree behind: neither may count.
PLANE = Actor("plane")  # what the tracker sync moves tasks as

AGENT = """
    import json, os, signal, sys, time
    pid_file, chatty = sys.argv[1], sys.argv[2] == "chatty"

    def late(signum, frame):
        with open(os.environ["ORCH_RESULT_FILE"], "w") as out:
            json.dump({"summary": "late", "tests_passed": True, "tokens_in": 5}, out)
        open("late-write.txt", "w").write("after the stop")
        sys.exit(0)

    signal.signal(signal.SIGTERM, late)
    if os.environ["ORCH_ATTEMPT"] != "1":
        print("second try: done", flush=True)
        with open(os.environ["ORCH_RESULT_FILE"], "w") as out:
            json.dump({"summary": "ok", "tokens_in": 1000, "tokens_out": 200,
                       "cost": 0.5, "model": "m1"}, out)
        sys.exit(0)
    with open(pid_file + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(pid_file + ".tmp", pid_file)
    while True:
        if chatty:
            print("working", flush=True)
        time.sleep(0.05)
"""


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie counts as gone: it runs nothing
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture
async def world(tmp_path: Path, clock: ManualClock, request: pytest.FixtureRequest
                ) -> AsyncIterator[tuple[Orch, Path]]:
    mode = getattr(request, "param", "silent")
    script = tmp_path / "agent.py"
    script.write_text(textwrap.dedent(AGENT), encoding="utf-8")
    pid_file = tmp_path / "agent.pid"
    developer = AgentCommand((sys.executable, str(script), str(pid_file), mode),
                             timeout_s=600, stall_timeout_s=300)
    settings = Settings(agents={**SANDBOX_AGENTS, "developer": developer},
                        repos_dir=str(tmp_path / "repos"), transient_max_attempts=3)
    orch = await start_orch(tmp_path / "orch.db", settings, clock, tmp_path)
    await orch.loop.start()
    yield orch, pid_file
    await orch.loop.stop()
    await orch.db.close()


async def started(orch: Orch, pid_file: Path) -> int:
    await orch.loop.tick()
    await until(pid_file.exists, within=10.0, what="the agent's pid file")
    return int(await asyncio.to_thread(pid_file.read_text))


async def test_a_task_blocked_in_the_tracker_stops_its_running_agent(
        world: tuple[Orch, Path], clock: ManualClock) -> None:
    orch, pid_file = world
    task = await orch.approved("Stop me")
    pid = await started(orch, pid_file)

    await orch.pipeline.block(task.id, PLANE, "moved to Blocked in Plane by Lena")
    await until(lambda: gone(pid), within=5.0, what=f"agent {pid} gone")
    await orch.loop.wait_idle()

    job = await orch.jobs.latest_job(task.id, "development")
    assert job is not None and job.status is JobStatus.CANCELLED
    run = await orch.jobs.last_run(job.id)
    assert run is not None and run.status is RunStatus.CANCELLED
    assert run.error is not None
    assert run.error.startswith("moved to Blocked in Plane by Lena")
    assert run.result == {}  # the result it wrote after the stop is not read
    await orch.loop.settle()
    after = await orch.task(task.id)
    assert after.stage == BLOCKED  # nothing it did afterwards moved the task
    assert await orch.jobs.open_job(task.id) is None
    note = await EffortView(SqliteRunLedger(orch.db), clock).card_note(after)
    card = render.card(after, DEFAULT_PIPELINE, clock.now(), note)
    assert "stopped " + task.key + "'s developer run: moved to Blocked in Plane by Lena" in card


@pytest.mark.parametrize("world", ["silent"], indirect=True)
async def test_a_silent_agent_is_stopped_after_the_stall_timeout_and_retried(
        world: tuple[Orch, Path], clock: ManualClock) -> None:
    orch, pid_file = world
    task = await orch.approved("Hang")
    pid = await started(orch, pid_file)

    clock.advance(299)
    assert orch.loop.watch.check_stalls() == 0
    clock.advance(1)
    assert (await orch.loop.tick()).stalled == 1
    await until(lambda: gone(pid), within=5.0, what=f"agent {pid} gone")
    await orch.loop.wait_idle()

    job = await orch.jobs.latest_job(task.id, "development")
    assert job is not None and job.status is JobStatus.QUEUED  # a transient failure
    assert job.last_error == "stalled: no output for 5 min"
    first = await orch.jobs.last_run(job.id)
    assert first is not None and first.status is RunStatus.FAILED
    assert (first.error or "").startswith("stalled: no output for 5 min")
    note = await EffortView(SqliteRunLedger(orch.db), clock).card_note(await orch.task(task.id))
    assert note is not None and "developer run stalled: no output for 5 min" in note
    clock.advance(3600)  # past the backoff: the retry runs and is told why
    await orch.loop.settle()
    runs = await orch.jobs.runs_of(job.id)
    assert [r.status for r in runs] == [RunStatus.FAILED, RunStatus.SUCCEEDED]
    prompt = Path(runs[1].log_path or "").with_name(f"run-{runs[1].id}.prompt.md")
    assert "stalled: no output for 5 min" in prompt.read_text()
    effort = runs[1].effort
    assert effort is not None and (effort.tokens_in, effort.cost, effort.model) == (
        1000, 0.5, "m1")


@pytest.mark.parametrize("world", ["chatty"], indirect=True)
async def test_an_agent_that_prints_regularly_is_not_stopped(
        world: tuple[Orch, Path], clock: ManualClock) -> None:
    orch, pid_file = world
    task = await orch.approved("Talk")
    pid = await started(orch, pid_file)
    control = orch.loop.watch.in_flight[task.id].control

    for _ in range(10):  # 1,000 s of clock time, output seen after every step
        clock.advance(100)
        moved: datetime = clock.now()
        await until(lambda moved=moved: control.last_activity >= moved, within=10.0,
                    what="the agent's next output")
        assert orch.loop.watch.check_stalls() == 0

    assert not gone(pid)
    await orch.pipeline.cancel(task.id, PLANE, "cancelled in Plane")
    await until(lambda: gone(pid), within=5.0, what=f"agent {pid} gone")
    await orch.loop.wait_idle()
    run = await orch.jobs.find_open_run(task.id, "development")
    assert run is None
    assert orch.loop.watch.stalled_total == 0 and orch.loop.watch.stopped_total == 1
