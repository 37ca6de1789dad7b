"""The git side of a safe merge (the BranchGit port): fetch, rebase onto main, and push
a task branch with --force-with-lease against the SHA orch last saw. Never main."""

from __future__ import annotations

from pathlib import Path

from core.integrations.git.workspace import GitError, GitWorkspace, run_git, try_git
from core.integrations.git.worktrees import GitWorktrees
from core.pipeline.tasks import Task
from core.ports import Rebased

_IDENTITY = ["-c", "user.name=orch", "-c", "user.email=orch@example.invalid",
             "-c", "commit.gpgsign=false"]
_STALE = ("stale info", "fetch first", "rejected", "non-fast-forward")


class GitBranches:
    """BranchGit on the clones and worktrees of a GitWorkspace."""

    def __init__(self, workspace: GitWorkspace, worktrees: GitWorktrees, *,
                 protected: tuple[str, ...] = ("main",)) -> None:
        self._workspace = workspace
        self._worktrees = worktrees
        self._protected = protected

    async def fetch(self, task: Task) -> tuple[Path, str]:
        worktree = await self._worktrees.prepare(task)  # fetches the clone from its remote
        return worktree, await self.head(worktree)

    async def remote_sha(self, repo: str, branch: str) -> str | None:
        clone = self._workspace.clone_path(repo)
        code, out, _ = await try_git(
            ["rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}^{{commit}}"],
            cwd=clone)
        return out if code == 0 else None

    async def head(self, worktree: Path) -> str:
        return await run_git(["rev-parse", "HEAD"], cwd=worktree)

    async def contains(self, repo: str, ancestor: str, descendant: str) -> bool:
        code, _, _ = await try_git(["merge-base", "--is-ancestor", ancestor, descendant],
                                   cwd=self._workspace.clone_path(repo))
        return code == 0

    async def rebase(self, worktree: Path, start: str, onto: str) -> Rebased:
        await run_git(["reset", "--quiet", "--hard", start], cwd=worktree)
        code, _, _ = await try_git([*_IDENTITY, "rebase", "--quiet", onto], cwd=worktree)
        if code == 0:
            return Rebased(await self.head(worktree))
        _, out, _ = await try_git(["diff", "--name-only", "--diff-filter=U"], cwd=worktree)
        await try_git(["rebase", "--abort"], cwd=worktree)
        await run_git(["reset", "--quiet", "--hard", start], cwd=worktree)
        return Rebased(None, tuple(sorted(line for line in out.splitlines() if line)))

    async def checkout(self, worktree: Path, sha: str) -> None:
        await run_git(["reset", "--quiet", "--hard", sha], cwd=worktree)

    async def push(self, worktree: Path, branch: str, sha: str, expected: str | None) -> bool:
        if branch in self._protected:
            raise GitError(["push", branch], f"orch never pushes {branch}")
        lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
        code, _, err = await try_git(["push", "--porcelain", lease, "origin",
                                      f"{sha}:refs/heads/{branch}"], cwd=worktree)
        if code == 0:
            await run_git(["update-ref", f"refs/remotes/origin/{branch}", sha], cwd=worktree)
            return True
        if any(word in err for word in _STALE):
            return False
        raise GitError(["push", "origin", branch], err)
