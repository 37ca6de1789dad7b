"""The job loop's Worktrees port on top of GitWorkspace.

A repository with a remote URL configured is cloned (and fetched before each job).
A repository without one gets a local repository under `repos_dir`, initialised once
with a single commit on main: that is how the sandbox, the demo and tests run agents
in real git worktrees without any server. Each task works in its own worktree on its
own branch (`orch/<key>`), created from main the first time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from core.integrations.git.workspace import GitWorkspace, init_local_repo
from core.pipeline.tasks import Task


class GitWorktrees:
    """Prepares the worktree a task's agent runs in."""

    def __init__(self, workspace: GitWorkspace, remotes: Mapping[str, str] | None = None) -> None:
        self._workspace = workspace
        self._remotes = dict(remotes or {})
        self._locks: dict[str, asyncio.Lock] = {}

    async def prepare(self, task: Task) -> Path:
        """The task's worktree, made if missing; raises GitError when git fails."""
        url = self._remotes.get(task.repo)
        if url:
            await self._workspace.ensure_clone(task.repo, url)
        else:
            await self._ensure_local(task.repo)
        return await self._workspace.worktree_for(task.repo, _branch(task))

    async def remove(self, task: Task) -> None:
        """Remove the task's worktree (its branch stays)."""
        await self._workspace.remove_worktree(task.repo, _branch(task))

    async def _ensure_local(self, repo: str) -> None:
        path = self._workspace.clone_path(repo)
        async with self._locks.setdefault(repo, asyncio.Lock()):
            if not (path / ".git").exists():
                await init_local_repo(path)


def _branch(task: Task) -> str:
    return task.branch or f"orch/{task.key.lower()}"
