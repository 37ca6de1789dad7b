"""The task store port and its write vocabulary; only the pipeline service writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.pipeline.stages import Stage
    from core.pipeline.tasks import ChangeKind, Task, TaskEvent


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
    """Tasks and their audit trail (storage.tasks.SqliteTaskStore). Every write is one
    transaction with its event; core.pipeline.service.PipelineService is its only user."""

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

    async def get(self, task_id: int) -> Task | None:
        """The task with that id, if any."""
        ...

    async def find(self, *, key: str | None = None, tracker_id: str | None = None) -> Task | None:
        """The task with that key or tracker item id, if any."""
        ...

    async def list_open(self) -> Sequence[Task]:
        """Every task not done or cancelled, oldest first by time in stage."""
        ...

    async def events(self, task_id: int, limit: int = 50) -> Sequence[TaskEvent]:
        """The newest `limit` events of a task, oldest first."""
        ...
