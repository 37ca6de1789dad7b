"""A merge-gate world for tests: a forge (fake or the emulator over HTTP) on real bare
repositories, orch's clone and worktrees, real SQLite, and a real re-test command.

The repository holds `app.py` and `run_tests.py`, which imports every `test_*.py`: a
task that renames a function its own tests follow is green alone and red on top of a
task whose new test still calls the old name."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.clock import ManualClock
from core.integrations.agents.retest import CommandRetester
from core.integrations.forge.gitea import GiteaForge
from core.integrations.forge.http import GiteaHttp
from core.integrations.git.branches import GitBranches
from core.integrations.git.workspace import GitWorkspace, run_git
from core.integrations.git.worktrees import GitWorktrees
from core.integrations.http_retry import Backoff
from core.merge.gate import GateConfig, MergeGate
from core.pipeline.service import PipelineService
from core.pipeline.stages import DONE, QUEUED, Pipeline, StageSpec
from core.pipeline.tasks import SYSTEM, Task
from core.ports import Retester
from sandbox.gitea.emulator import GiteaEmulator
from sandbox.gitea.server import serve_gitea
from storage.database import Database
from storage.merge import SqliteMergeLeaseStore, SqliteMergeRecords
from storage.tasks import SqliteTaskStore
from tests.fakes import RecordingNotifier
from tests.forge_fakes import BareRefs, FakeForge

FORGE_REPO = "team/api"
CONTEXT = "orch/merge"
FILES = {
    "app.py": "def greet():\n    return 'hi'\n",
    "run_tests.py": (
        "import glob, importlib, sys\n"
        "sys.path.insert(0, '.')\n"
        "for name in sorted(glob.glob('test_*.py')):\n"
        "    importlib.import_module(name[:-3])\n"
        "print('all tests passed')\n"
    ),
    "test_app.py": "from app import greet\nassert greet() == 'hi'\n",
}
PIPELINE = Pipeline((
    StageSpec(QUEUED),
    StageSpec("development", role="developer"),
    StageSpec("merge", gates=("merged",), rollback_to="development"),
    StageSpec(DONE),
))


@dataclass
class MergeRig:
    root: Path
    db: Database
    forge: Any
    bare: Path
    emulator: GiteaEmulator
    clock: ManualClock = field(default_factory=ManualClock)
    lessons: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tasks = SqliteTaskStore(self.db)
        self.notifier = RecordingNotifier()
        self.pipeline = PipelineService(self.tasks, PIPELINE, self.clock, self.notifier)
        self.workspace = GitWorkspace(self.root / "repos")
        self.worktrees = GitWorktrees(self.workspace, {"api": str(self.bare)})
        self.git = GitBranches(self.workspace, self.worktrees)
        self.leases = SqliteMergeLeaseStore(self.db)
        self.records = SqliteMergeRecords(self.db)
        self.retester: Retester = CommandRetester([sys.executable, "-B", "run_tests.py"],
                                                  timeout_s=60)

    def gate(self, **config: Any) -> MergeGate:
        settings = GateConfig({"api": FORGE_REPO}, status_context=CONTEXT, retry_base_s=0,
                              **config)
        return MergeGate(self.forge, self.git, self.retester, self.leases, self.records,
                         self.pipeline, self.clock, settings, on_hold=self._lesson)

    async def _lesson(self, task: Task, reason: str) -> None:
        self.lessons.append((task.key, reason))

    async def developed(self, title: str, files: dict[str, str],
                        gate: MergeGate | None = None) -> Task:
        """A task whose developer committed `files`, pushed and in the merge stage."""
        task = await self.pipeline.create("api", title, SYSTEM)
        task = await self.pipeline.approve(task.id, SYSTEM)
        worktree = await self.worktrees.prepare(task)
        for name, text in files.items():
            (worktree / name).write_text(text, encoding="utf-8")
        await run_git(["add", "--all"], cwd=worktree)
        await run_git(["-c", "user.name=dev", "-c", "user.email=dev@x", "commit", "--quiet",
                       "-m", f"{task.key}: {title}"], cwd=worktree)
        await (gate or self.gate()).publish(task)
        return await self.pipeline.advance(task.id, SYSTEM)

    async def main_sha(self) -> str:
        return await run_git(["rev-parse", "refs/heads/main"], cwd=self.bare)

    async def branch_sha(self, task: Task) -> str:
        return await run_git(["rev-parse", f"refs/heads/{task.branch}"], cwd=self.bare)

    async def main_files(self) -> list[str]:
        return (await run_git(["ls-tree", "--name-only", "main"], cwd=self.bare)).split()

    async def task(self, task: Task) -> Task:
        found = await self.tasks.get(task.id)
        assert found is not None
        return found

    @property
    def merge_calls(self) -> int:
        """Merge calls orch sent to the forge."""
        if isinstance(self.forge, FakeForge):
            return sum(call.startswith("merge ") for call in self.forge.calls)
        return self.emulator.merge_requests

    async def merge_by_hand(self, task: Task) -> str:
        """A person merges the task's PR on the forge; returns main's new SHA."""
        record = await self.records.get(task.id)
        assert record is not None and record.pr_number is not None
        if isinstance(self.forge, FakeForge):
            head = await self.branch_sha(task)
            sha = await self.forge.refs.merge(FORGE_REPO, "main", head, "merged by hand")
            assert sha is not None
            self.forge.merge_by_hand(FORGE_REPO, record.pr_number, sha)
            return sha
        repo = self.emulator.repos[FORGE_REPO]
        admin = self.emulator.add_token("admin-token", "lead", admin=True)
        await self.emulator.merge(repo, admin, record.pr_number,
                                  {"Do": "merge", "force_merge": True})
        return await self.main_sha()

    @property
    def merges(self) -> int:
        return self.forge.merges if isinstance(self.forge, FakeForge) else self.emulator.merges


@asynccontextmanager
async def merge_rig(kind: str, root: Path, *, checking_reads: int = 0
                    ) -> AsyncIterator[MergeRig]:
    """A rig on the fake forge ("fake") or on the emulator over HTTP ("gitea")."""
    clock = ManualClock()
    emulator = GiteaEmulator(root / "forge", clock, checking_reads=checking_reads)
    await emulator.create_repo(FORGE_REPO, FILES)
    emulator.protect(FORGE_REPO, "main", (CONTEXT,))
    bare = Path(emulator.clone_url(FORGE_REPO))
    db = await Database.open(root / "orch.db")
    try:
        if kind == "fake":
            fake = FakeForge(BareRefs(root / "forge"), required={FORGE_REPO: (CONTEXT,)})
            yield MergeRig(root, db, fake, bare, emulator, clock)
            return
        emulator.add_token("bot-token", "orch-bot")
        async with serve_gitea(emulator) as url:
            http = GiteaHttp(url, "bot-token", clock=clock, backoff=Backoff(base_delay_s=0))
            try:
                yield MergeRig(root, db, GiteaForge(http), bare, emulator, clock)
            finally:
                await http.aclose()
    finally:
        await db.close()
