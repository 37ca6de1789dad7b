"""The narrow interfaces core talks through. Adapters live in storage/ and bot/."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
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

    async def stage_digest(self, per_stage: int) -> tuple[dict[str, int], list[Task]]:
        """Open tasks counted per stage, and the `per_stage` oldest of each stage."""
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
