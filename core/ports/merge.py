"""The merge gate's ports: the per-repository lease, the git side of a merge (a task
branch between the clone and the forge) and the re-test of the combined tree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.merge.records import MergeRecord
    from core.pipeline.tasks import Task


@dataclass(frozen=True, slots=True)
class MergeLease:
    """Who merges into a repository right now, doing what, until when."""

    repo: str
    task_id: int
    task_key: str
    owner: str
    phase: str
    acquired_at: datetime
    phase_since: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class MergeLeaseGrant:
    """The answer to an acquire: granted or not, and the lease as it now stands."""

    granted: bool
    lease: MergeLease


class MergeLeaseStore(Protocol):
    """One merge lease per repository (an invariant of the schema), with an expiry."""

    async def acquire(self, repo: str, task_id: int, task_key: str, owner: str,
                      at: datetime, ttl_s: float) -> MergeLeaseGrant:
        """Take the repo's lease: free, expired, or already this task's → granted."""
        ...

    async def renew(self, repo: str, task_id: int, at: datetime, ttl_s: float,
                    phase: str | None = None) -> bool:
        """Push the expiry out (and note the phase); False if the task no longer holds it."""
        ...

    async def release(self, repo: str, task_id: int, at: datetime, reason: str) -> bool:
        """Give the lease back; False if the task did not hold it (any more)."""
        ...

    async def held(self, at: datetime) -> Sequence[MergeLease]:
        """Every live lease (expired ones excluded), by repo."""
        ...

    async def sweep(self, at: datetime) -> Sequence[MergeLease]:
        """Release every expired lease; returns what it released."""
        ...


@dataclass(frozen=True, slots=True)
class Rebased:
    """A rebase onto main: the new head, or the files that conflict (nothing changed)."""

    sha: str | None
    conflicts: tuple[str, ...] = ()


class BranchGit(Protocol):
    """A task branch between the local clone and the forge. Never pushes main."""

    async def fetch(self, task: Task) -> tuple[Path, str]:
        """Fetch the remote; the task's worktree (made if missing) and its HEAD commit."""
        ...

    async def remote_sha(self, repo: str, branch: str) -> str | None:
        """The branch (or main) on the remote as last fetched; None if it is not there."""
        ...

    async def contains(self, repo: str, ancestor: str, descendant: str) -> bool:
        """True when `descendant` already has `ancestor` in its history."""
        ...

    async def rebase(self, worktree: Path, start: str, onto: str) -> Rebased:
        """Put the worktree at `start`, rebase it onto `onto`; a conflict is aborted."""
        ...

    async def checkout(self, worktree: Path, sha: str) -> None:
        """Put the worktree (and its local branch) at `sha`: the merged tree to deploy."""
        ...

    async def push(self, worktree: Path, branch: str, sha: str, expected: str | None) -> bool:
        """Force-push `sha` to `branch` only if the remote still has `expected` (None: the
        branch must not exist yet); False when the remote moved meanwhile."""
        ...


@dataclass(frozen=True, slots=True)
class Retest:
    passed: bool
    output: str  # the tail of what the test printed: the reason of a rollback


class Retester(Protocol):
    """Runs the testing stage's command on the combined tree in the rebased worktree."""

    async def retest(self, task: Task, worktree: Path, sha: str) -> Retest:
        """Run the tests on `sha`, checked out in `worktree`; never raises for red."""
        ...


class MergeRecords(Protocol):
    """What the merge gate remembers of each task's branch and PR (core/merge/records.py);
    one record per task, writes are compare-and-set on `version`."""

    async def ensure(self, task_id: int, repo: str, forge_repo: str, branch: str,
                     at: datetime) -> MergeRecord:
        """The task's record, made if missing."""
        ...

    async def get(self, task_id: int) -> MergeRecord | None:
        """The task's record, if it has one."""
        ...

    async def save(self, record: MergeRecord, at: datetime) -> MergeRecord | None:
        """Write `record` if the stored one is still at `record.version`; None if not."""
        ...

    async def find(self, forge_repo: str, *, pr_number: int | None = None,
                   branch: str | None = None) -> list[MergeRecord]:
        """Records of a forge repository by PR number or branch (webhook hints)."""
        ...
