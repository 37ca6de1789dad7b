"""The pipeline service: the one way a task is created or moved.

Every move is checked against the pipeline's transitions, written as one
compare-and-set on (id, version) together with its audit event, and then handed to
the notifier. A refused move raises a DomainError and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core.clock import Clock
from core.errors import IllegalTransition, StaleVersion, UnknownTask
from core.pipeline.stages import BLOCKED, CANCELLED, DONE, QUEUED, Move, Pipeline, Stage
from core.pipeline.tasks import Actor, ChangeKind, Task, TaskEvent
from core.ports import Applied, EventDraft, Notifier, TaskChange, TaskDraft, TaskStore

log = logging.getLogger(__name__)


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
        self.store = store
        self.pipeline = pipeline
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
        applied = await self.store.create(
            draft, EventDraft(str(actor), ChangeKind.CREATED), self._clock.now()
        )
        self._publish(applied)
        return applied.task

    async def get(self, task_id: int) -> Task:
        task = await self.store.get(task_id)
        if task is None:
            raise UnknownTask(f"Unknown task #{task_id}.")
        return task

    async def find(self, key: str) -> Task:
        task = await self.store.find(key=key)
        if task is None:
            raise UnknownTask(f"Unknown task {key.upper()}.")
        return task

    async def open_tasks(self) -> Sequence[Task]:
        return await self.store.list_open()

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
        return await self._record(task, ChangeKind.APPROVED, actor, reason)

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
        return await self.store.events(task_id, limit)

    def _needs_approval(self, task: Task) -> bool:
        return task.stage in self.pipeline.active and self.pipeline.spec(task.stage).needs_approval

    async def _advance(
        self, task: Task, actor: Actor, reason: str | None, *, approved: bool
    ) -> Task:
        target = self.pipeline.next_stage(task.stage) if task.stage in self.pipeline.order else None
        if target is None:
            raise IllegalTransition(f"{task.key} cannot move on from {task.stage}.")
        kind = self._arrival_kind(target, approved)
        return await self._move(task, target, Move.ADVANCE, kind, actor, reason)

    def _arrival_kind(self, target: Stage, approved: bool) -> ChangeKind:
        if target == DONE:
            return ChangeKind.DONE
        if self.pipeline.spec(target).needs_approval:
            return ChangeKind.NEEDS_APPROVAL
        return ChangeKind.APPROVED if approved else ChangeKind.ADVANCED

    def _spec_rollback(self, task: Task) -> Stage:
        spec = self.pipeline.spec(task.stage) if task.stage in self.pipeline.order else None
        if spec is None or spec.rollback_to is None:
            raise IllegalTransition(f"{task.key} in {task.stage} has nowhere to roll back to.")
        return spec.rollback_to

    async def _current(self, task_id: int, expected_version: int | None) -> Task:
        task = await self.get(task_id)
        if expected_version is not None and task.version != expected_version:
            raise StaleVersion(f"{task.key} has changed since (now version {task.version}).")
        return task

    async def _record(self, task: Task, kind: ChangeKind, actor: Actor,
                      reason: str | None) -> Task:
        """A change that keeps the stage (an approval in place): new version, one event."""
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
        if not self.pipeline.permits(task.stage, target, move):
            raise IllegalTransition(f"{task.key} cannot go from {task.stage} to {target}.")
        change = TaskChange(stage=target, blocked_from=blocked_from, reason=reason)
        return await self._write(task, change, EventDraft(str(actor), kind, reason))

    async def _write(self, task: Task, change: TaskChange, event: EventDraft) -> Task:
        applied = await self.store.compare_and_set(
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
