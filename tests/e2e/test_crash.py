"""The crash test: `orch run` is SIGKILLed while three real agents work. After a restart
no process of the old runs is alive, every job runs again exactly once, and every branch
holds one commit per successful run."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import textwrap
from pathlib import Path

from core.clock import SystemClock
from core.config import Settings
from core.integrations.git.workspace import GitWorkspace, run_git
from core.jobs.model import RESTARTED
from core.pipeline.service import PipelineService
from core.ports import NotifierHub
from sandbox.telegram.emulator import TelegramEmulator
from storage.database import Database
from storage.tasks import SqliteTaskStore
from tests.integration.test_agent_runner import _gone
from tests.orch_process import orch_env, start_orch, until
from tests.pipeline_world import LEAD

TASKS = 3

# attempt 1 works "forever" with a helper beside it; a later attempt commits and is done
AGENT = """
    import os, subprocess, sys, time
    from pathlib import Path

    marks = Path(sys.argv[1])
    key, attempt = os.environ["ORCH_TASK_KEY"], os.environ["ORCH_ATTEMPT"]
    if attempt == "1":
        helper = subprocess.Popen(["sleep", "600"])
        (marks / f"{key}.tmp").write_text(f"{os.getpid()} {helper.pid}")
        (marks / f"{key}.tmp").rename(marks / f"{key}.pids")
        time.sleep(600)
    identity = {"GIT_AUTHOR_NAME": "agent", "GIT_AUTHOR_EMAIL": "agent@orch.invalid",
                "GIT_COMMITTER_NAME": "agent", "GIT_COMMITTER_EMAIL": "agent@orch.invalid"}
    Path(f"{key}.txt").write_text(f"attempt {attempt}\\n")
    for args in (["add", f"{key}.txt"], ["commit", "-q", "-m", f"{key} attempt {attempt}"]):
        subprocess.run(["git", *args], check=True, env={**os.environ, **identity})
"""


def _config(tmp: Path) -> Path:
    agent = tmp / "agent.py"
    agent.write_text(textwrap.dedent(AGENT), encoding="utf-8")
    config = tmp / "orch.toml"
    config.write_text(textwrap.dedent(f"""
        [pipeline]
        stages = [{{ name = "development", role = "developer" }}]

        [agents.developer]
        command = [{str(sys.executable)!r}, {str(agent)!r}, {str(tmp / "marks")!r}]
        timeout_s = 600
    """), encoding="utf-8")
    (tmp / "marks").mkdir()
    return config


async def _approved_tasks(db_path: Path, settings: Settings) -> None:
    db = await Database.open(db_path)
    try:
        pipeline = PipelineService(SqliteTaskStore(db), settings.pipeline, SystemClock(),
                                   NotifierHub())
        for n in range(TASKS):
            task = await pipeline.create("api", f"Crash-proof {n}", LEAD)
            await pipeline.approve(task.id, LEAD)
    finally:
        await db.close()


async def _query(db_path: Path, sql: str) -> list[tuple[object, ...]]:
    db = await Database.open(db_path)
    try:
        return [tuple(row) for row in await db.fetch_all(sql)]
    finally:
        await db.close()


async def test_a_killed_orch_leaves_no_agent_and_runs_each_job_again_once(
        tmp_path: Path) -> None:
    db_path = tmp_path / "orch.db"
    config = _config(tmp_path)
    settings = Settings().with_file(config)
    await _approved_tasks(db_path, settings)
    marks = tmp_path / "marks"
    async with TelegramEmulator().serve() as url:
        env = orch_env(url, db_path, ORCH_CONFIG=str(config), ORCH_JOBS_ENABLED="true",
                       ORCH_MAX_CONCURRENCY=str(TASKS))
        first = await start_orch(env, tmp_path / "first.log")
        await until(lambda: len(list(marks.glob("*.pids"))) == TASKS, 60, "three agents")
        old = [int(pid) for f in marks.glob("*.pids") for pid in f.read_text().split()]
        assert not any(_gone(pid) for pid in old)

        await first.stop(signal.SIGKILL)

        second = await start_orch(env, tmp_path / "second.log")
        try:
            await until(lambda: _all_done(db_path), 60, "every task done after the restart")
            assert all(_gone(pid) for pid in old), [p for p in old if not _gone(p)]
        finally:
            _kill_survivors(old)  # only if the test failed: leave nothing behind
            assert await second.stop() == 0, second.stderr()

    groups = await _query(db_path, "SELECT process_group FROM runs")
    assert len(groups) == 2 * TASKS and all(g > 1 for (g,) in groups)  # each run recorded
    runs = await _query(db_path, "SELECT job_id, attempt, status, error FROM runs "
                                 "ORDER BY job_id, id")
    jobs = {job_id for job_id, *_ in runs}
    assert len(jobs) == TASKS
    for job in jobs:  # each job: the run cut off by the kill, then exactly one more
        assert [(a, s, e) for j, a, s, e in runs if j == job] == [
            (1, "failed", RESTARTED), (2, "succeeded", None)]
    workspace = GitWorkspace(Path(env["ORCH_REPOS_DIR"]))
    for key, branch in await _query(db_path, "SELECT key, branch FROM tasks"):
        branch = branch or f"orch/{str(key).lower()}"
        commits = await run_git(["rev-list", "--count", f"main..{branch}"],
                                cwd=workspace.clone_path("api"))
        assert int(commits) == 1, branch  # one successful run, one commit


def _kill_survivors(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


async def _all_done(db_path: Path) -> bool:
    rows = await _query(db_path, "SELECT count(*) FROM tasks WHERE stage = 'done'")
    return rows[0][0] == TASKS
