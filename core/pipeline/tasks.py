"""The task: the pipeline's record of one work item, and what happens to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from core.pipeline.stages import Stage


@dataclass(frozen=True, slots=True)
class Task:
    """One work item in the pipeline. `version` grows on every change."""

    id: int
    key: str
    repo: str
    title: str
    stage: Stage
    version: int
    created_at: datetime
    updated_at: datetime
    stage_entered_at: datetime
    description: str = ""
    branch: str = ""
    blocked_from: Stage | None = None
    reason: str | None = None
    tracker_id: str | None = None
    source: str = "manual"


class ChangeKind(StrEnum):
    """What happened to a task, as the audit trail and the notifier name it."""

    CREATED = "created"
    APPROVED = "approved"
    ADVANCED = "advanced"
    NEEDS_APPROVAL = "needs_approval"
    ROLLED_BACK = "rolled_back"
    BLOCKED = "blocked"
    UNBLOCKED = "unblocked"
    CANCELLED = "cancelled"
    DONE = "done"
    FAILED = "failed"
    NOTE = "note"  # no stage change: something worth showing on the card
    DEPS_RELEASED = "deps_released"  # no stage change: the last dependency is done


@dataclass(frozen=True, slots=True)
class Actor:
    """Who or what caused a change: `telegram:123`, `engine`, `system`, or a tracker by
    its name (`plane`: the sync makes `Actor(tracker.name)`)."""

    kind: str
    ident: str = ""
    display: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.ident}" if self.ident else self.kind

    @property
    def label(self) -> str:
        return self.display or str(self)

    @property
    def is_person(self) -> bool:
        return self.kind == "telegram"


SYSTEM = Actor("system")
ENGINE = Actor("engine")


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """One entry of a task's audit trail; also the domain event the notifier gets."""

    id: int
    task_id: int
    key: str
    at: datetime
    actor: str
    kind: ChangeKind
    from_stage: Stage | None
    to_stage: Stage
    version: int
    reason: str | None = None

    @property
    def stage_changed(self) -> bool:
        return self.from_stage != self.to_stage
