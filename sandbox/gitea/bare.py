"""The emulator's git: one bare repository per forge repository, changed only by git.

Pushes arrive straight into the bare repository (its path is the clone URL). A
pre-receive hook refuses every push to a protected branch, as Gitea does when pushing
is off in branch protection, so nobody — orch included — can push main; merges are
made here with plumbing (`merge-tree`, `commit-tree`, `update-ref`), which runs no hook.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.integrations.git.workspace import GitError, init_local_repo, run_git, try_git

_IDENTITY = ["-c", "user.name=forgeadmin", "-c", "user.email=admin@example.invalid"]
_HOOK = """#!/bin/sh
# Branch protection: pushes to these branches are refused (merge through a PR instead).
while read old new ref; do
  for protected in {branches}; do
    if [ "$ref" = "refs/heads/$protected" ]; then
      echo "Gitea: branch $protected is protected from force push / push" >&2
      exit 1
    fi
  done
done
exit 0
"""


@dataclass(frozen=True, slots=True)
class TreeMerge:
    """What merging two commits' trees gives: a tree, or the files that conflict."""

    tree: str | None
    conflicts: tuple[str, ...] = ()


class BareRepo:
    """One bare repository on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    async def create(cls, path: Path, files: dict[str, str]) -> BareRepo:
        """A bare repository with one commit on main holding `files`."""
        with tempfile.TemporaryDirectory() as seed:
            await init_local_repo(Path(seed) / "seed", files)
            await run_git(["clone", "--quiet", "--bare", str(Path(seed) / "seed"), str(path)])
        await run_git(["symbolic-ref", "HEAD", "refs/heads/main"], cwd=path)
        return cls(path)

    def protect(self, branches: list[str]) -> None:
        hook = self.path / "hooks" / "pre-receive"
        hook.write_text(_HOOK.replace("{branches}", " ".join(branches) or '""'),
                        encoding="utf-8")
        hook.chmod(0o755)

    async def rev(self, ref: str) -> str | None:
        code, out, _ = await try_git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
                                     cwd=self.path)
        return out if code == 0 else None

    async def branches(self) -> dict[str, str]:
        listing = await run_git(["for-each-ref", "--format=%(refname:short) %(objectname)",
                                 "refs/heads"], cwd=self.path)
        return dict(line.split(" ", 1) for line in listing.splitlines() if " " in line)

    async def is_ancestor(self, older: str, newer: str) -> bool:
        code, _, _ = await try_git(["merge-base", "--is-ancestor", older, newer], cwd=self.path)
        return code == 0

    async def merge_base(self, a: str, b: str) -> str:
        return await run_git(["merge-base", a, b], cwd=self.path)

    async def merge_trees(self, ours: str, theirs: str, *, base: str | None = None) -> TreeMerge:
        args = ["merge-tree", "--write-tree", "--name-only", "--no-messages"]
        if base:
            args.append(f"--merge-base={base}")
        code, out, err = await try_git([*args, ours, theirs], cwd=self.path)
        lines = out.splitlines()
        if code == 0:
            return TreeMerge(lines[0])
        if code == 1:
            return TreeMerge(None, tuple(line for line in lines[1:] if line))
        raise GitError(args, err)

    async def commit(self, tree: str, parents: list[str], message: str) -> str:
        parent_args = [a for p in parents for a in ("-p", p)]
        return await run_git([*_IDENTITY, "commit-tree", tree, *parent_args, "-m", message],
                             cwd=self.path)

    async def commits_between(self, base: str, head: str) -> list[tuple[str, str]]:
        """(sha, message) of head's commits not in base, oldest first."""
        listing = await run_git(["log", "--reverse", "--format=%H%x00%B%x1e",
                                 f"{base}..{head}"], cwd=self.path)
        found = []
        for record in listing.split("\x1e"):
            if "\x00" in record:
                sha, message = record.strip("\n").split("\x00", 1)
                found.append((sha.strip(), message.strip() or "(no message)"))
        return found

    async def move(self, branch: str, new: str, old: str) -> None:
        """Compare-and-set a branch (no hooks run: this is the forge's own write)."""
        await run_git(["update-ref", f"refs/heads/{branch}", new, old], cwd=self.path)

    async def delete(self, branch: str) -> None:
        await run_git(["update-ref", "-d", f"refs/heads/{branch}"], cwd=self.path)

    async def files_at(self, ref: str) -> list[str]:
        listing = await run_git(["ls-tree", "-r", "--name-only", ref], cwd=self.path)
        return listing.splitlines()
