"""Merges per hour through the merge gate, against the serial limit 3600/T.

Eight ready tasks in one repository (each adds its own file, so none conflicts) wait
in the merge stage of a Gitea emulator served over HTTP on 127.0.0.1, on real bare
git repositories, with real SQLite. The repository's test is a script that sleeps T
seconds. The gate takes them one at a time under the lease: each is rebased onto the
previous merge, pushed, re-tested (T), given its commit status and merged with the
tested SHA. Measured in the same run:

- T as the test command really takes (interpreter start included), timed alone;
- merges per hour through the gate, and its ratio to the serial limit 3600/T;
- the gate's own overhead per merge (everything but the re-test) as a share of T.

Run: `.venv/bin/python -m bench.bench_merge [--tasks 8] [--test-seconds 1.0]`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from core.clock import SystemClock
from core.integrations.agents.retest import CommandRetester
from core.integrations.forge.gitea import GiteaForge
from core.integrations.forge.http import GiteaHttp
from core.integrations.git.branches import GitBranches
from core.integrations.git.workspace import GitWorkspace, run_git
from core.integrations.git.worktrees import GitWorktrees
from core.merge.gate import GateConfig, MergeGate, Step
from core.pipeline.service import PipelineService
from core.pipeline.stages import DONE, QUEUED, Pipeline, StageSpec
from core.pipeline.tasks import SYSTEM, Task
from core.ports import NotifierHub, Retest
from sandbox.gitea.emulator import GiteaEmulator
from sandbox.gitea.server import serve_gitea
from storage.database import Database
from storage.merge import SqliteMergeLeaseStore, SqliteMergeRecords
from storage.tasks import SqliteTaskStore

REPO, FORGE_REPO, CONTEXT = "api", "team/api", "orch/merge"
PIPELINE = Pipeline((StageSpec(QUEUED), StageSpec("development", role="developer"),
                     StageSpec("merge", gates=("merged",), rollback_to="development"),
                     StageSpec(DONE)))


class TimedRetester:
    """The re-test, with the time each one took."""

    def __init__(self, seconds: float) -> None:
        self.inner = CommandRetester([sys.executable, "-B", "-c",
                                      f"import time; time.sleep({seconds})"], timeout_s=600)
        self.took: list[float] = []

    async def retest(self, task: Task, worktree: Path, sha: str) -> Retest:
        started = time.perf_counter()
        result = await self.inner.retest(task, worktree, sha)
        self.took.append(time.perf_counter() - started)
        return result


async def bench(tasks: int, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="orch-bench-merge-") as folder:
        root, clock = Path(folder), SystemClock()
        forge = GiteaEmulator(root / "forge", clock, checking_reads=0)
        await forge.create_repo(FORGE_REPO, {"README.md": "# api\n"})
        forge.protect(FORGE_REPO, "main", (CONTEXT,))
        forge.add_token("bench", "orch-bot")
        db = await Database.open(root / "orch.db")
        async with serve_gitea(forge) as url:
            http = GiteaHttp(url, "bench", clock=clock)
            try:
                return await _run(root, db, forge, GiteaForge(http), tasks, seconds)
            finally:
                await http.aclose()
                await db.close()


async def _run(root: Path, db: Database, forge: GiteaEmulator, api: GiteaForge,
               count: int, seconds: float) -> dict[str, float]:
    clock = SystemClock()
    pipeline = PipelineService(SqliteTaskStore(db), PIPELINE, clock, NotifierHub())
    workspace = GitWorkspace(root / "repos")
    worktrees = GitWorktrees(workspace, {REPO: forge.clone_url(FORGE_REPO)})
    retester = TimedRetester(seconds)
    gate = MergeGate(api, GitBranches(workspace, worktrees), retester,
                     SqliteMergeLeaseStore(db), SqliteMergeRecords(db), pipeline, clock,
                     GateConfig({REPO: FORGE_REPO}, status_context=CONTEXT))
    ready = [await _ready(pipeline, worktrees, gate, n) for n in range(count)]
    alone = TimedRetester(seconds)
    await alone.retest(ready[0], root, "-")
    started = time.perf_counter()
    outcomes = [await gate.run(task) for task in ready]  # the worker's order, one repo
    wall = time.perf_counter() - started
    assert all(o.step is Step.MERGED for o in outcomes), outcomes
    assert len(retester.took) == count and forge.merges == count
    per_merge = wall / count
    overhead = per_merge - sum(retester.took) / count
    t = alone.took[0]
    return {"T": t, "wall": wall, "per_hour": 3600 / per_merge, "limit": 3600 / t,
            "overhead": overhead}


async def _ready(pipeline: PipelineService, worktrees: GitWorktrees, gate: MergeGate,
                 n: int) -> Task:
    task = await pipeline.create(REPO, f"feature {n}", SYSTEM)
    task = await pipeline.approve(task.id, SYSTEM)
    worktree = await worktrees.prepare(task)
    (worktree / f"f{n}.txt").write_text(f"{n}\n", encoding="utf-8")
    await run_git(["add", "--all"], cwd=worktree)
    await run_git(["-c", "user.name=dev", "-c", "user.email=dev@x", "commit", "-qm",
                   f"feature {n}"], cwd=worktree)
    await gate.publish(task)
    return await pipeline.advance(task.id, SYSTEM)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--test-seconds", type=float, default=1.0)
    args = parser.parse_args()
    r = asyncio.run(bench(args.tasks, args.test_seconds))
    print(f"merge gate: {args.tasks} merges in one repo, test T = {r['T']:.2f} s "
          f"(sleep {args.test_seconds:g} s + interpreter)")
    print(f"  through the gate : {r['per_hour']:7.0f} merges/hour ({r['wall']:.1f} s wall)")
    print(f"  serial limit     : {r['limit']:7.0f} merges/hour (3600/T)")
    print(f"  ratio            : {r['per_hour'] / r['limit']:.2f} of the limit")
    print(f"  gate overhead    : {r['overhead']:.2f} s per merge = "
          f"{100 * r['overhead'] / r['T']:.0f} % of T (fetch, rebase, push, statuses, merge)")


if __name__ == "__main__":
    main()
