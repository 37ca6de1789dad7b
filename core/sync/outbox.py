"""Write-backs as rows: what orch owes the tracker survives a crash and is retried.

Each row follows one lifecycle (pending → running → succeeded | failed | skipped),
append-only once terminal; a retry after a transient failure goes back to pending with
`attempts` counted and `not_before` pushed out, so retries survive a restart too. A row
left running by a dead process is swept to failed and a fresh pending copy takes its
place. What a lost row would have written is repaired by the next full resync, which
compares the state the task means with the state the tracker reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from core.pipeline.stages import Stage

MAX_ATTEMPTS = 50  # transient failures of one row before it is given up (~4 h of tries)
BASE_DELAY_S = 15.0
MAX_DELAY_S = 300.0  # a resumed tracker is caught up within a few ticks


class RowStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # nothing to write: a person moved the item first, or superseded


@dataclass(frozen=True, slots=True)
class WriteBackDraft:
    """A move of a tracked task that the tracker should reflect."""

    task_id: int
    key: str
    item_id: str
    stage: Stage
    version: int
    kind: str
    actor: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class WriteBackRow:
    """A write-back as stored."""

    id: int
    draft: WriteBackDraft
    attempts: int
    not_before: datetime
    state_done: bool

    @property
    def external_id(self) -> str:
        """The comment's external id: one comment per move, however often retried."""
        return f"orch-{self.draft.task_id}-v{self.draft.version}"


def retry_delay(attempts: int) -> timedelta | None:
    """When to try again after `attempts` transient failures; None: give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return timedelta(seconds=min(MAX_DELAY_S, BASE_DELAY_S * 2 ** max(0, attempts - 1)))
