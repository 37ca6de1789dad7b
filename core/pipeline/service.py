"""The pipeline service: the one door through which a task is created, moved or noted.

Every move is checked against the pipeline's transitions, written as one
compare-and-set on (id, version) together with its audit event, and then handed to
the notifier. A refused move raises a DomainError and changes nothing. An event that
keeps the stage (an approval recorded in place, dependencies released) goes through
`note`. The task store is private: other services read tasks through `get`, `lookup`,
`find`, `find_by_tracker_item`, `open_tasks` and `history`, and nothing else writes them
(tests/unit/test_architecture.py checks it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import cast

from core.clock import Clock
from core.errors import IllegalTransition, StaleVersion, UnknownTask
from core.pipeline.stages import BLOCKED, CANCELLED, DONE, QUEUED, Move, Pipeline, Stage
from core.pipeline.tasks import Actor, ChangeKind, Task, TaskEvent
from core.ports import (
    Applied,
    EventDraft,
    Notifier,
    OpenTasks,
    TaskChange,
    TaskDraft,
    TaskStore,
)

log = logging.getLogger(__name__)

# The kinds `note` may write: the audit trail never says a task moved when it did not.
IN_PLACE = frozenset({ChangeKind.APPROVED, ChangeKind.NOTE, ChangeKind.DEPS_RELEASED})


class PipelineService:
    """Creates tasks and applies moves; the stage engine and the bot both come here."""

    def __init__(
        self,
        store: TaskStore,
        pipeline: Pipeline,
        clock: Clock,
        notifier: Notifier,
        *,
        key_prefix: str = "ORCH",
    ) -> None:
        self._store = store
        self.stages = pipeline
        self._clock = clock
        self._notifier = notifier
        self._key_prefix = key_prefix

    async def create(
        self,
        repo: str,
        title: str,
        actor: Actor,
        *,
        key: str | None = None,
        description: str = "",
        tracker_id: str | None = None,
        source: str = "manual",
    ) -> Task:
        """Put a new task into `queued`; DuplicateTask if its key or item is known."""
        draft = TaskDraft(
            repo=repo,
            title=title,
            stage=QUEUED,
            key=key,
            key_prefix=self._key_prefix,
            description=description,
            tracker_id=tracker_id,
            source=source,
        )
        applied = await self._store.create(
            draft, EventDraft(str(actor), ChangeKind.CREATED), self._clock.now()
        )
        self._publish(applied)
        return applied.task

    async def get(self, task_id: int) -> Task:
        task = await self._store.get(task_id)
        if task is None:
            raise UnknownTask(f"Unknown task #{task_id}.")
        return task

    async def lookup(self, task_id: int) -> Task | None:
        """The task as it is now, or None when there is no such task."""
        return await self._store.get(task_id)

    async def find_by_tracker_item(self, tracker_id: str) -> Task | None:
        """The task made from that tracker item, if any."""
        return await self._store.find(tracker_id=tracker_id)

    async def find(self, key: str) -> Task:
        task = await self._store.find(key=key)
        if task is None:
            raise UnknownTask(f"Unknown task {key.upper()}.")
        return task

    async def open_tasks(self) -> Sequence[Task]:
        return await self._store.list_open()

    async def stage_digest(self, per_stage: int) -> tuple[dict[str, int], list[Task]]:
        """Open tasks counted per stage, and the `per_stage` oldest of each (for /queue)."""
        # both stores implement it beside the TaskStore port, which stays narrow
        return await cast(OpenTasks, self._store).stage_digest(per_stage)

    async def approve(
        self,
        task_id: int,
        actor: Actor,
        *,
        expected_version: int | None = None,
        reason: str | None = None,
    ) -> Task:
        """A person's approval. `queued` moves on at once; in a stage whose gates need a
        person, the approval is recorded in place (kind APPROVED, same stage) and the
        stage engine moves the task on once the stage's work and other gates are done."""
        task = await self._current(task_id, expected_version)
        if not self._needs_approval(task):
            raise IllegalTransition(f"{task.key} is in {task.stage} and needs no approval.")
        if task.stage == QUEUED:
            return await self._advance(task, actor, reason, approved=True)
        return await self._note(task, ChangeKind.APPROVED, actor, reason)

    async def note(
        self,
        task_id: int,
        kind: ChangeKind,
        actor: Actor,
        reason: str | None = None,
        *,
        expected_version: int | None = None,
    ) -> Task:
        """Record an event that keeps the task where it is (new version, one event, the
        notifier hears it); StaleVersion if it moved since `expected_version`."""
        if kind not in IN_PLACE:
            raise IllegalTransition(f"A {kind} event moves a task; use the move itself.")
        task = await self._current(task_id, expected_version)
        return await self._note(task, kind, actor, reason)

    async def advance(
        self,
        task_id: int,
        actor: Actor,
        *,
        reason: str | None = None,
        expected_version: int | None = None,
    ) -> Task:
        """Move a task to the next stage in order."""
        task = await self._current(task_id, expected_version)
        return await self._advance(task, actor, reason, approved=False)

    async def rollback(
        self, task_id: int, actor: Actor, reason: str, *, expected_version: int | None = None
    ) -> Task:
        """Send a task back to its stage's rollback target (a gate failed)."""
        task = await self._current(task_id, expected_version)
        target = self._spec_rollback(task)
        return await self._move(task, target, Move.ROLLBACK, ChangeKind.ROLLED_BACK, actor, reason)

    async def block(
        self,
        task_id: int,
        actor: Actor,
        reason: str,
        *,
        expected_version: int | None = None,
        failed: bool = False,
    ) -> Task:
        """Stop a task where it is; `unblock` returns it there."""
        task = await self._current(task_id, expected_version)
        kind = ChangeKind.FAILED if failed else ChangeKind.BLOCKED
        return await self._move(
            task, BLOCKED, Move.BLOCK, kind, actor, reason, blocked_from=task.stage
        )

    async def unblock(
        self,
        task_id: int,
        actor: Actor,
        *,
        reason: str | None = None,
        expected_version: int | None = None,
    ) -> Task:
        task = await self._current(task_id, expected_version)
        if task.stage != BLOCKED or task.blocked_from is None:
            raise IllegalTransition(f"{task.key} is not blocked (it is in {task.stage}).")
        return await self._move(
            task, task.blocked_from, Move.UNBLOCK, ChangeKind.UNBLOCKED, actor, reason
        )

    async def cancel(
        self, task_id: int, actor: Actor, reason: str, *, expected_version: int | None = None
    ) -> Task:
        """Stop a task for good. Terminal: nothing moves it afterwards."""
        task = await self._current(task_id, expected_version)
        return await self._move(task, CANCELLED, Move.CANCEL, ChangeKind.CANCELLED, actor, reason)

    async def close(
        self, task_id: int, actor: Actor, reason: str, *, expected_version: int | None = None
    ) -> Task:
        """The tracker says the work is complete: the task goes straight to done."""
        task = await self._current(task_id, expected_version)
        return await self._move(task, DONE, Move.CLOSE, ChangeKind.DONE, actor, reason)

    async def history(self, task_id: int, limit: int = 50) -> Sequence[TaskEvent]:
        return await self._store.events(task_id, limit)

    def _needs_approval(self, task: Task) -> bool:
        return task.stage in self.stages.active and self.stages.spec(task.stage).needs_approval

    async def _advance(
        self, task: Task, actor: Actor, reason: str | None, *, approved: bool
    ) -> Task:
        target = self.stages.next_stage(task.stage) if task.stage in self.stages.order else None
        if target is None:
            raise IllegalTransition(f"{task.key} cannot move on from {task.stage}.")
        kind = self._arrival_kind(target, approved)
        return await self._move(task, target, Move.ADVANCE, kind, actor, reason)

    def _arrival_kind(self, target: Stage, approved: bool) -> ChangeKind:
        if target == DONE:
            return ChangeKind.DONE
        if self.stages.spec(target).needs_approval:
            return ChangeKind.NEEDS_APPROVAL
        return ChangeKind.APPROVED if approved else ChangeKind.ADVANCED

    def _spec_rollback(self, task: Task) -> Stage:
        spec = self.stages.spec(task.stage) if task.stage in self.stages.order else None
        if spec is None or spec.rollback_to is None:
            raise IllegalTransition(f"{task.key} in {task.stage} has nowhere to roll back to.")
        return spec.rollback_to

    async def _current(self, task_id: int, expected_version: int | None) -> Task:
        task = await self.get(task_id)
        if expected_version is not None and task.version != expected_version:
            raise StaleVersion(f"{task.key} has changed since (now version {task.version}).")
        return task

    async def _note(self, task: Task, kind: ChangeKind, actor: Actor,
                    reason: str | None) -> Task:
        """A change that keeps the stage: new version, one event."""
        change = TaskChange(stage=task.stage, blocked_from=task.blocked_from, reason=task.reason)
        return await self._write(task, change, EventDraft(str(actor), kind, reason))

    async def _move(
        self,
        task: Task,
        target: Stage,
        move: Move,
        kind: ChangeKind,
        actor: Actor,
        reason: str | None,
        *,
        blocked_from: Stage | None = None,
    ) -> Task:
        if not self.stages.permits(task.stage, target, move):
            raise IllegalTransition(f"{task.key} cannot go from {task.stage} to {target}.")
        change = TaskChange(stage=target, blocked_from=blocked_from, reason=reason)
        return await self._write(task, change, EventDraft(str(actor), kind, reason))

    async def _write(self, task: Task, change: TaskChange, event: EventDraft) -> Task:
        applied = await self._store.compare_and_set(
            task.id, task.version, change, event, self._clock.now())
        if applied is None:
            raise StaleVersion(f"{task.key} was changed by someone else just now.")
        self._publish(applied)
        return applied.task

    def _publish(self, applied: Applied) -> None:
        try:
            self._notifier.publish(applied.event, applied.task)
        except Exception:  # the notifier must never break a move that is already written
            log.exception("notifier failed on %s", applied.event.key)
