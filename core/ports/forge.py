"""The forge: where task branches become pull requests and are merged (Gitea/Forgejo
today, GitHub later). Errors: core.errors.ForgeError and its children."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


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

    async def get_pull_request(self, repo: str, number: int) -> PullRequest:
        """The PR as the forge has it now; ForgeNotFound if there is none."""
        ...

    async def set_status(self, repo: str, sha: str, status: CommitStatus) -> None:
        """Report a commit status (one context) on `sha`."""
        ...

    async def combined_status(self, repo: str, sha: str) -> CombinedStatus:
        """The latest status of every context on `sha`, worst first."""
        ...

    async def merge(
        self, repo: str, number: int, *, head_sha: str, title: str, message: str = "",
        style: str = "merge",
    ) -> None:
        """Merge only if the PR's head is still `head_sha`; the title is always explicit."""
        ...

    async def is_merged(self, repo: str, number: int) -> bool:
        """True once the PR is merged (by anyone)."""
        ...
