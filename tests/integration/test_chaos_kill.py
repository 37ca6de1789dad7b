"""The crash test's kill is a crashed container's: it takes what orch started in a
session of its own (git), which a kill of orch's process group alone left running."""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

from bench.chaos import Orch
from bench.chaos_morning import _files_lost
from core.integrations.git.workspace import init_local_repo, run_git

# stands for orch: starts a "git" in a new session, says its pid, waits
PARENT = ("import subprocess, sys, time\n"
          "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
          " start_new_session=True, stdout=subprocess.DEVNULL)\n"
          "print(child.pid, flush=True)\n"
          "time.sleep(60)\n")


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs Linux pidfds")
async def test_a_kill_takes_the_processes_orch_started_in_their_own_session(
        tmp_path: Path) -> None:
    orch = Orch({}, tmp_path)
    orch.proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PARENT, stdout=subprocess.PIPE, start_new_session=True)
    assert orch.proc.stdout is not None
    child = int(await orch.proc.stdout.readline())
    pidfd = os.pidfd_open(child)
    try:
        orch.kill()
        await orch.reap()

        readable, _, _ = select.select([pidfd], [], [], 10.0)  # readable once it is dead
    finally:
        os.close(pidfd)
    assert readable, "the child orch started in its own session outlived the kill"


async def test_files_a_task_branch_deleted_from_main_are_counted_lost(tmp_path: Path) -> None:
    repo = await init_local_repo(tmp_path / "repos" / "web", {"README.md": "x\n", "app.py": ""})
    await run_git(["checkout", "--quiet", "-b", "orch/web-1"], cwd=repo)
    await run_git(["rm", "--quiet", "app.py"], cwd=repo)
    await run_git(["commit", "--quiet", "-m", "an agent over a half-made worktree"], cwd=repo)
    await run_git(["checkout", "--quiet", "-b", "orch/web-2", "main"], cwd=repo)
    (repo / "note.md").write_text("added\n", encoding="utf-8")
    await run_git(["add", "note.md"], cwd=repo)
    await run_git(["commit", "--quiet", "-m", "an agent's ordinary work"], cwd=repo)

    assert _files_lost(tmp_path / "repos") == 1
