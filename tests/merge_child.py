"""A separate orch process that runs the merge gate once for one task (crash tests).

    python -m tests.merge_child ROOT GITEA_URL TASK_ID
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from core.clock import SystemClock
from core.integrations.agents.retest import CommandRetester
from core.integrations.forge.gitea import GiteaForge
from core.integrations.forge.http import GiteaHttp
from core.integrations.git.branches import GitBranches
from core.integrations.git.workspace import GitWorkspace
from core.integrations.git.worktrees import GitWorktrees
from core.merge.gate import GateConfig, MergeGate
from core.pipeline.service import PipelineService
from storage.database import Database
from storage.merge import SqliteMergeLeaseStore, SqliteMergeRecords
from storage.tasks import SqliteTaskStore
from tests.fakes import RecordingNotifier
from tests.merge_rig import CONTEXT, FORGE_REPO, PIPELINE


async def main(root: Path, url: str, task_id: int) -> None:
    clock = SystemClock()
    db = await Database.open(root / "orch.db")
    http = GiteaHttp(url, "bot-token", clock=clock)
    workspace = GitWorkspace(root / "repos")
    bare = root / "forge" / "team" / "api.git"
    worktrees = GitWorktrees(workspace, {"api": str(bare)})
    tasks = SqliteTaskStore(db)
    gate = MergeGate(
        GiteaForge(http), GitBranches(workspace, worktrees),
        CommandRetester([sys.executable, "-B", "run_tests.py"], timeout_s=60),
        SqliteMergeLeaseStore(db), SqliteMergeRecords(db),
        PipelineService(tasks, PIPELINE, clock, RecordingNotifier()), clock,
        GateConfig({"api": FORGE_REPO}, status_context=CONTEXT, owner="child"))
    task = await tasks.get(task_id)
    assert task is not None
    print("outcome:", await gate.run(task), flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
