"""The narrow interfaces core talks through. Adapters live in storage/ and bot/."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from core.pipeline.stages import Stage
from core.pipeline.tasks import ChangeKind, Task, TaskEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TaskDraft:
    """A task about to be created; `key` None means: allocate the next one."""

    repo: str
    title: str
    stage: Stage
    key: str | None = None
    key_prefix: str = "ORCH"
    description: str = ""
    tracker_id: str | None = None
    source: str = "manual"


@dataclass(frozen=True, slots=True)
class TaskChange:
    """The new values of a compare-and-set; stage_entered_at moves when stage does."""

    stage: Stage
    blocked_from: Stage | None
    reason: str | None
    title: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class EventDraft:
    """What the audit trail records about a change, besides the stages and version."""

    actor: str
    kind: ChangeKind
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Applied:
    """A change that was written: the task as it is now and the event explaining it."""

    task: Task
    event: TaskEvent


class TaskStore(Protocol):
    """Tasks and their audit trail. Every write is one transaction with its event."""

    async def create(self, draft: TaskDraft, event: EventDraft, at: datetime) -> Applied:
        """Insert a task and its `created` event; DuplicateTask if key or item exists."""
        ...

    async def compare_and_set(
        self,
        task_id: int,
        expected_version: int,
        change: TaskChange,
        event: EventDraft,
        at: datetime,
    ) -> Applied | None:
        """Apply `change` only if the task is still at `expected_version`; None if not."""
        ...

    async def get(self, task_id: int) -> Task | None: ...

    async def find(self, *, key: str | None = None, tracker_id: str | None = None) -> Task | None:
        """The task with that key or tracker item id, if any."""
        ...

    async def list_open(self) -> Sequence[Task]:
        """Every task not done or cancelled, oldest first by time in stage."""
        ...

    async def events(self, task_id: int, limit: int = 50) -> Sequence[TaskEvent]:
        """The newest `limit` events of a task, oldest first."""
        ...


class Notifier(Protocol):
    """Hears about every applied change. Must never raise and never block for long."""

    def publish(self, event: TaskEvent, task: Task) -> None:
        """Take note of a change; delivery happens later, outside the caller's path."""
        ...


class NotifierHub:
    """Hands each event to every subscribed notifier; one failing never stops the rest.

    Services get the hub at construction; adapters that need objects built later (the
    Telegram notifier needs the bot) subscribe once they exist.
    """

    def __init__(self) -> None:
        self._subscribers: list[Notifier] = []
        self.errors = 0

    def subscribe(self, notifier: Notifier) -> None:
        self._subscribers.append(notifier)

    def publish(self, event: TaskEvent, task: Task) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber.publish(event, task)
            except Exception:
                self.errors += 1
                log.exception("notifier %r failed on %s", subscriber, event.key)


# --- the forge (Gitea/Forgejo today, GitHub later) -------------------------------------


class StatusState(StrEnum):
    """A commit status; the combined state of a commit is the worst of its contexts."""

    PENDING = "pending"
    SUCCESS = "success"
    ERROR = "error"
    FAILURE = "failure"
    WARNING = "warning"


# worst first: error > failure > warning > pending > success (Gitea's order)
STATUS_SEVERITY = (StatusState.ERROR, StatusState.FAILURE, StatusState.WARNING,
                   StatusState.PENDING, StatusState.SUCCESS)


@dataclass(frozen=True, slots=True)
class PullRequest:
    """A pull request as orch needs it. `mergeable` False also while the forge is still
    checking; `head_sha` of a merged PR follows the branch (use `merge_commit_sha`)."""

    number: int
    state: str  # "open" | "closed"
    merged: bool
    mergeable: bool
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    title: str = ""
    url: str = ""
    merge_commit_sha: str | None = None
    merged_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.state == "open" and not self.merged


@dataclass(frozen=True, slots=True)
class CommitStatus:
    context: str
    state: StatusState
    description: str = ""
    target_url: str = ""


@dataclass(frozen=True, slots=True)
class CombinedStatus:
    """The latest status of each context on one commit; no status at all is pending."""

    sha: str
    state: StatusState
    statuses: tuple[CommitStatus, ...] = ()

    def of(self, context: str) -> CommitStatus | None:
        for status in self.statuses:
            if status.context == context:
                return status
        return None


def combine(sha: str, statuses: Sequence[CommitStatus]) -> CombinedStatus:
    """Statuses oldest first (as forges list them) → the latest per context, worst wins."""
    latest: dict[str, CommitStatus] = {}
    for status in statuses:
        latest.pop(status.context, None)
        latest[status.context] = status
    kept = tuple(latest.values())
    states = {s.state for s in kept}
    worst = next((s for s in STATUS_SEVERITY if s in states), StatusState.PENDING)
    return CombinedStatus(sha, worst, kept)


class Forge(Protocol):
    """Where branches become pull requests and pull requests are merged.

    `repo` is the forge's `owner/name`. Every method raises ForgeError (core/errors.py)."""

    async def open_pull_request(
        self, repo: str, head: str, base: str, title: str, body: str = ""
    ) -> PullRequest:
        """The open PR of `head` into `base`: found if it exists, else created."""
        ...

    async def get_pull_request(self, repo: str, number: int) -> PullRequest: ...

    async def set_status(self, repo: str, sha: str, status: CommitStatus) -> None: ...

    async def combined_status(self, repo: str, sha: str) -> CombinedStatus: ...

    async def merge(
        self, repo: str, number: int, *, head_sha: str, title: str, message: str = "",
        style: str = "merge",
    ) -> None:
        """Merge only if the PR's head is still `head_sha`; the title is always explicit."""
        ...

    async def is_merged(self, repo: str, number: int) -> bool: ...


# --- the merge lease -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lease:
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
class LeaseGrant:
    """The answer to an acquire: granted or not, and the lease as it now stands."""

    granted: bool
    lease: Lease


class LeaseStore(Protocol):
    """One merge lease per repository (an invariant of the schema), with an expiry."""

    async def acquire(self, repo: str, task_id: int, task_key: str, owner: str,
                      at: datetime, ttl_s: float) -> LeaseGrant:
        """Take the repo's lease: free, expired, or already this task's → granted."""
        ...

    async def renew(self, repo: str, task_id: int, at: datetime, ttl_s: float,
                    phase: str | None = None) -> bool:
        """Push the expiry out (and note the phase); False if the task no longer holds it."""
        ...

    async def release(self, repo: str, task_id: int, at: datetime, reason: str) -> bool: ...

    async def held(self, at: datetime) -> Sequence[Lease]:
        """Every live lease (expired ones excluded), by repo."""
        ...

    async def sweep(self, at: datetime) -> Sequence[Lease]:
        """Release every expired lease; returns what it released."""
        ...


# --- the git side of a merge, and the re-test --------------------------------------------


@dataclass(frozen=True, slots=True)
class Rebased:
    """A rebase onto main: the new head, or the files that conflict (nothing changed)."""

    sha: str | None
    conflicts: tuple[str, ...] = ()


class BranchGit(Protocol):
    """A task branch between the local clone and the forge. Never pushes main."""

    async def fetch(self, task: Task) -> Path:
        """Fetch the remote and return the task's worktree (made if missing)."""
        ...

    async def remote_sha(self, repo: str, branch: str) -> str | None:
        """The branch (or main) on the remote as last fetched; None if it is not there."""
        ...

    async def head(self, worktree: Path) -> str:
        """The commit checked out in the worktree."""
        ...

    async def contains(self, repo: str, ancestor: str, descendant: str) -> bool: ...

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

    async def retest(self, task: Task, worktree: Path, sha: str) -> Retest: ...
