"""The in-memory TaskStore, honouring SqliteTaskStore's rules."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from core.errors import (
    DuplicateTask,
    StorageError,
)
from core.pipeline.stages import BLOCKED, TERMINAL
from core.pipeline.tasks import Task, TaskEvent
from core.ports import Applied, EventDraft, TaskChange, TaskDraft


class InMemoryTaskStore:
    """A TaskStore in dicts, honouring SqliteTaskStore's rules (keys, duplicates, CAS)."""

    def __init__(self) -> None:
        self._tasks: dict[int, Task] = {}
        self._events: list[TaskEvent] = []
        self._counters: dict[str, int] = {}

    # No awaits inside the methods below: each one is atomic, like a transaction.

    async def create(self, draft: TaskDraft, event: EventDraft, at: datetime) -> Applied:
        key = draft.key or self._next_key(draft.key_prefix)
        if self._taken(key, draft.tracker_id):
            raise DuplicateTask(f"A task for {draft.key or draft.tracker_id} exists already.")
        task = Task(
            id=len(self._tasks) + 1,
            key=key,
            repo=draft.repo,
            title=draft.title,
            stage=draft.stage,
            version=1,
            created_at=at,
            updated_at=at,
            stage_entered_at=at,
            description=draft.description,
            branch=f"orch/{key.lower()}",
            tracker_id=draft.tracker_id,
            source=draft.source,
        )
        return self._store(task, None, event, at)

    async def compare_and_set(
        self,
        task_id: int,
        expected_version: int,
        change: TaskChange,
        event: EventDraft,
        at: datetime,
    ) -> Applied | None:
        before = self._tasks.get(task_id)
        if before is None or before.version != expected_version:
            return None
        if (change.stage == BLOCKED) != (change.blocked_from is not None):
            raise StorageError("CHECK constraint failed: blocked <=> blocked_from")
        task = replace(
            before,
            stage=change.stage,
            blocked_from=change.blocked_from,
            reason=change.reason,
            title=before.title if change.title is None else change.title,
            description=before.description if change.description is None else change.description,
            version=before.version + 1,
            updated_at=at,
            stage_entered_at=before.stage_entered_at if before.stage == change.stage else at,
        )
        return self._store(task, before.stage, event, at)

    async def get(self, task_id: int) -> Task | None:
        return self._tasks.get(task_id)

    def peek(self, task_id: int) -> Task | None:
        """The task without an await: other fakes read stages atomically, as SQL joins."""
        return self._tasks.get(task_id)

    async def find(self, *, key: str | None = None, tracker_id: str | None = None) -> Task | None:
        if key is not None:
            return next((t for t in self._tasks.values() if t.key == key.upper()), None)
        if tracker_id is not None:
            return next((t for t in self._tasks.values() if t.tracker_id == tracker_id), None)
        return None

    async def list_open(self) -> Sequence[Task]:
        alive = [t for t in self._tasks.values() if t.stage not in TERMINAL]
        return sorted(alive, key=lambda t: (t.stage_entered_at, t.id))


    async def stage_digest(self, per_stage: int) -> tuple[dict[str, int], list[Task]]:
        alive = await self.list_open()
        counts = Counter(t.stage for t in alive)
        seen: Counter[str] = Counter()
        oldest = []
        for task in alive:
            seen[task.stage] += 1
            if seen[task.stage] <= per_stage:
                oldest.append(task)
        return dict(counts), oldest

    async def events(self, task_id: int, limit: int = 50) -> Sequence[TaskEvent]:
        own = [e for e in self._events if e.task_id == task_id]
        return own[max(len(own) - limit, 0) :] if limit >= 0 else own  # as SQL's LIMIT

    def _next_key(self, prefix: str) -> str:
        """Like SqliteTaskStore: a number is used up even if the insert then fails, and a
        number whose key is taken already is skipped."""
        while True:
            self._counters[prefix] = self._counters.get(prefix, 0) + 1
            key = f"{prefix}-{self._counters[prefix]}"
            if not self._taken(key, None):
                return key

    def _taken(self, key: str, tracker_id: str | None) -> bool:
        return any(
            t.key == key or (tracker_id is not None and t.tracker_id == tracker_id)
            for t in self._tasks.values()
        )

    def _store(
        self, task: Task, from_stage: str | None, draft: EventDraft, at: datetime
    ) -> Applied:
        event = TaskEvent(
            id=len(self._events) + 1,
            task_id=task.id,
            key=task.key,
            at=at,
            actor=draft.actor,
            kind=draft.kind,
            from_stage=from_stage,
            to_stage=task.stage,
            version=task.version,
            reason=draft.reason,
        )
        self._tasks[task.id] = task
        self._events.append(event)
        return Applied(task, event)
