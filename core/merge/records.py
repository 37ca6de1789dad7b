"""What the merge gate remembers of each task's branch and pull request, between steps
and across restarts: every decision it takes is redone from this and from the forge.
Stored through the MergeRecords port (core/ports/merge.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any


class MergeState(StrEnum):
    OPEN = "open"  # the PR is open; the gate has work to do
    MERGING = "merging"  # the merge call for `tested_sha` may have been sent
    MERGED = "merged"
    HELD = "held"  # waits for a person (the branch was moved, the PR was closed)


@dataclass(frozen=True, slots=True)
class MergeRecord:
    task_id: int
    repo: str
    forge_repo: str
    branch: str
    version: int
    state: MergeState = MergeState.OPEN
    pr_number: int | None = None
    pr_url: str | None = None
    seen_sha: str | None = None
    pushing_sha: str | None = None
    tested_sha: str | None = None
    tested_green: bool | None = None
    merged_sha: str | None = None
    note: str | None = None

    def but(self, **changes: Any) -> MergeRecord:
        return replace(self, **changes)
