"""The job loop's Worktrees port on top of GitWorkspace.

A repository with a remote URL configured is cloned (and fetched before each job).
A repository without one gets a local repository under `repos_dir`, initialised once
with a single commit on main: that is how the sandbox, the demo and tests run agents
in real git worktrees without any server. Each task works in its own worktree on its
own branch (`orch/<key>`), created from main the first time.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from core.integrations.git.workspace import GitWorkspace
from core.pipeline.tasks import Task

log = logging.getLogger(__name__)


class GitWorktrees:
    """Prepares the worktree a task's agent runs in."""

    def __init__(self, workspace: GitWorkspace, remotes: Mapping[str, str] | None = None) -> None:
        self._workspace = workspace
        self._remotes = dict(remotes or {})

    async def prepare(self, task: Task) -> Path:
        """The task's worktree, made if missing; raises GitError when git fails."""
        url = self._remotes.get(task.repo)
        if url:
            await self._workspace.ensure_clone(task.repo, url)
        else:
            await self._workspace.ensure_local(task.repo)
        path = await self._workspace.worktree_for(task.repo, _branch(task))
        _clear_stale_index_lock(path)
        return path

    async def remove(self, task: Task) -> None:
        """Remove the task's worktree (its branch stays)."""
        await self._workspace.remove_worktree(task.repo, _branch(task))


def _clear_stale_index_lock(worktree: Path) -> None:
    """Remove an `index.lock` a killed git left in the worktree: the job loop runs one
    job per task at a time and kills an abandoned run's process group before the job
    runs again, so no live git can hold it, and a leftover would fail every retry."""
    dot_git = worktree / ".git"
    try:
        pointer = dot_git.read_text(encoding="utf-8").strip() if dot_git.is_file() else ""
    except OSError:
        return
    git_dir = Path(pointer.removeprefix("gitdir:").strip()) if pointer else dot_git
    lock = (worktree / git_dir if not git_dir.is_absolute() else git_dir) / "index.lock"
    if lock.exists():
        log.warning("removing %s, left by a git killed with its run", lock)
        lock.unlink(missing_ok=True)


def _branch(task: Task) -> str:
    return task.branch or f"orch/{task.key.lower()}"
