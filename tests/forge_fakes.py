"""An in-process Forge for unit tests: the port's rules in dicts, branches in real git.

FakeForge keeps pull requests, statuses and branch protection in memory and asks a
`Refs` for branch heads and merge commits: `BareRefs` reads and writes real bare
repositories (so a merge really moves main), which is what the gate's tests need. It
passes the same contract tests as the Gitea adapter against the emulator
(tests/integration/test_forge_contract.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from core.errors import ForgeNotFound, ForgeRejected, MergeConflict, MergeRefused
from core.ports import CombinedStatus, CommitStatus, PullRequest, combine
from sandbox.gitea.bare import BareRepo


class Refs(Protocol):
    async def head(self, repo: str, branch: str) -> str | None: ...

    async def merge(self, repo: str, base: str, head_sha: str, title: str) -> str | None:
        """Merge `head_sha` into `base`; the new base SHA, or None on a conflict."""
        ...


class BareRefs:
    """Branches of real bare repositories, `root/<owner>/<name>.git`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def bare(self, repo: str) -> BareRepo:
        owner, name = repo.split("/")
        return BareRepo(self.root / owner / f"{name}.git")

    async def head(self, repo: str, branch: str) -> str | None:
        return await self.bare(repo).rev(f"refs/heads/{branch}")

    async def merge(self, repo: str, base: str, head_sha: str, title: str) -> str | None:
        bare = self.bare(repo)
        base_sha = await bare.rev(f"refs/heads/{base}")
        assert base_sha is not None
        merged = await bare.merge_trees(base_sha, head_sha)
        if merged.tree is None:
            return None
        new = await bare.commit(merged.tree, [base_sha, head_sha], title)
        await bare.move(base, new, base_sha)
        return new


@dataclass
class _Pull:
    pr: PullRequest
    frozen_head: str | None = None  # the head when merged, if the branch is gone


@dataclass
class FakeForge:
    """Forge port in memory; see the module docstring. `calls` records every call."""

    refs: Refs
    required: dict[str, tuple[str, ...]] = field(default_factory=dict)  # repo → contexts
    can_merge: bool = True
    merges: int = 0
    calls: list[str] = field(default_factory=list)
    before_merge: Callable[[str, int], None] | None = None  # a test's hook: act mid-merge
    _pulls: dict[str, dict[int, _Pull]] = field(default_factory=dict)
    _statuses: dict[tuple[str, str], list[CommitStatus]] = field(default_factory=dict)

    async def open_pull_request(self, repo: str, head: str, base: str, title: str,
                                body: str = "") -> PullRequest:
        self.calls.append(f"open {head}")
        for number, pull in self._pulls.get(repo, {}).items():
            if pull.pr.is_open and (pull.pr.head_ref, pull.pr.base_ref) == (head, base):
                return await self.get_pull_request(repo, number)
        head_sha, base_sha = await self.refs.head(repo, head), await self.refs.head(repo, base)
        if head_sha is None or base_sha is None:
            raise ForgeNotFound(f"no branch {head} or {base}", 404)
        if head == base or head_sha == base_sha:
            raise ForgeRejected("There are no changes between the head and the base", 422)
        pulls = self._pulls.setdefault(repo, {})
        number = len(pulls) + 1
        pulls[number] = _Pull(PullRequest(number, "open", False, True, head, head_sha, base,
                                          base_sha, title=title))
        return await self.get_pull_request(repo, number)

    async def get_pull_request(self, repo: str, number: int) -> PullRequest:
        self.calls.append(f"get {number}")
        pull = self._pull(repo, number)
        head = await self.refs.head(repo, pull.pr.head_ref)
        base = await self.refs.head(repo, pull.pr.base_ref)
        # Like Gitea: head.sha follows the branch, even after the merge.
        return replace(pull.pr, head_sha=head or pull.frozen_head or pull.pr.head_sha,
                       base_sha=base or pull.pr.base_sha)

    async def set_status(self, repo: str, sha: str, status: CommitStatus) -> None:
        self.calls.append(f"status {status.state.value}")
        self._statuses.setdefault((repo, sha), []).append(status)

    async def combined_status(self, repo: str, sha: str) -> CombinedStatus:
        return combine(sha, self._statuses.get((repo, sha), []))

    async def merge(self, repo: str, number: int, *, head_sha: str, title: str,
                    message: str = "", style: str = "merge") -> None:
        self.calls.append(f"merge {number}")
        if self.before_merge is not None:
            self.before_merge(repo, number)
        pull = self._pull(repo, number)
        if not pull.pr.is_open:
            raise ForgeNotFound("The target couldn't be found.", 404)
        if not self.can_merge:
            raise MergeRefused("User not allowed to merge PR", 405)
        current = await self.get_pull_request(repo, number)
        if current.head_sha != head_sha:
            raise MergeConflict("head out of date", 409)
        latest = {s.context: s.state.value
                  for s in (await self.combined_status(repo, head_sha)).statuses}
        if any(latest.get(c) != "success" for c in self.required.get(repo, ())):
            raise MergeRefused("not allowed to merge [reason: Not all required status checks "
                               "successful]", 405)
        assert title.strip(), "a merge needs an explicit title"
        new_base = await self.refs.merge(repo, current.base_ref, head_sha, title)
        if new_base is None:
            raise MergeConflict("Merge Conflict Error", 409)
        self.merges += 1
        pull.frozen_head = head_sha
        pull.pr = replace(current, state="closed", merged=True, merge_commit_sha=new_base)

    async def is_merged(self, repo: str, number: int) -> bool:
        return self._pull(repo, number).pr.merged

    def merge_by_hand(self, repo: str, number: int, merge_sha: str) -> None:
        """A person merged the PR on the forge (the test moves main itself)."""
        pull = self._pull(repo, number)
        pull.frozen_head = pull.pr.head_sha
        pull.pr = replace(pull.pr, state="closed", merged=True, merge_commit_sha=merge_sha)

    def _pull(self, repo: str, number: int) -> _Pull:
        pull = self._pulls.get(repo, {}).get(number)
        if pull is None:
            raise ForgeNotFound("The target couldn't be found.", 404)
        return pull
