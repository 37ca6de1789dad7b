"""What a reconcile does to tasks once the rules have decided: the effects, in one place.

Every change goes through the PipelineService with the task's version, so a task that
moved meanwhile is never overwritten (StaleVersion: the item is retried next tick).
"""

from __future__ import annotations

from core.errors import DuplicateTask, TrackerRejected
from core.integrations.plane.html_text import html_to_text
from core.pipeline.service import PipelineService
from core.pipeline.stages import TERMINAL
from core.pipeline.tasks import TRACKER, Task
from core.sync.config import SyncConfig
from core.sync.records import DependencySink, ItemBlocker, ItemRecord
from core.sync.report import Tally
from core.sync.rules import Action, UnblockGuard
from core.sync.states_cache import ProjectStates
from core.tracker import StateGroup, TrackerProject, TrackerReader, WorkItem

_PAST = {Action.BLOCK: "blocked", Action.UNBLOCK: "unblocked", Action.CLOSE: "closed",
         Action.CANCEL: "cancelled"}


class TaskMoves:
    """Applies a decided Action to the item's task (creating it in the start case)."""

    def __init__(self, pipeline: PipelineService, config: SyncConfig, guard: UnblockGuard,
                 tracker: TrackerReader, dependencies: DependencySink | None) -> None:
        self._pipeline = pipeline
        self._config = config
        self._guard = guard
        self._tracker = tracker
        self._deps = dependencies

    async def apply(self, action: Action, project: TrackerProject, states: ProjectStates,
                    item: WorkItem, task: Task | None, tally: Tally) -> Task | None:
        """The item's task after the action; None when the item has no task."""
        if action is Action.SKIP_TERMINAL:
            tally.skipped_terminal += 1
            return None
        if action is Action.CREATE:
            return await self._start(project, item, tally)
        if task is None or action is Action.NOTHING:
            return task
        name = states.names.get(item.state_id, "another state")
        moved = await self._move(action, task, item, f"moved to {name} in Plane", tally)
        if moved is not None:
            tally.change(task.key, _PAST[action])
        return moved or task

    async def relations(self, project_id: str, states: ProjectStates, item_id: str,
                        task: Task) -> None:
        """Hand the item's blockers on: as task keys where the blocker has a task, else
        as the blocker item and its state group (the task waits until it completes)."""
        if self._deps is None:
            return
        relations = await self._tracker.relations(project_id, item_id)
        keys: list[str] = []
        items: list[ItemBlocker] = []
        for blocker_id in relations.blocked_by:
            blocker = await self._pipeline.store.find(tracker_id=blocker_id)
            if blocker is not None:
                keys.append(blocker.key)
            elif (untracked := await self._untracked(project_id, states, blocker_id)):
                items.append(untracked)
        await self._deps.ingest_relations(task, keys, items)

    async def deleted(self, record: ItemRecord, tally: Tally, *, by: str | None = None) -> None:
        """The item is gone from the tracker, confirmed: its task stops, with the reason."""
        task = await self._pipeline.store.find(tracker_id=record.item_id)
        if task is not None and task.stage not in TERMINAL:
            name = self._config.tracker_name
            why = (f"{record.key} was deleted in {name} (confirmed by {by})" if by else
                   f"{record.key} was deleted in {name} (absent and 404 on two full resyncs)")
            await self._pipeline.cancel(task.id, TRACKER, why, expected_version=task.version)
            tally.change(task.key, "deleted")

    async def _untracked(self, project_id: str, states: ProjectStates,
                         item_id: str) -> ItemBlocker | None:
        try:
            item = await self._tracker.item(project_id, item_id)
        except TrackerRejected as exc:
            if exc.status == 404:
                return None  # a deleted blocker blocks nothing
            raise
        group = states.group_of(item.state_id)
        released = group is StateGroup.COMPLETED or (
            group is StateGroup.CANCELLED and self._config.cancelled_releases)
        return ItemBlocker(item.id, item.key, str(group or "unknown"), released)

    async def _move(self, action: Action, task: Task, item: WorkItem, reason: str,
                    tally: Tally) -> Task | None:
        service, version = self._pipeline, task.version
        if action is Action.BLOCK:
            return await service.block(task.id, TRACKER, reason, expected_version=version)
        if action is Action.UNBLOCK:
            if not self._guard.admit(item.id, item.state_id):
                tally.deduped += 1
                return None
            return await service.unblock(task.id, TRACKER, reason=reason, expected_version=version)
        if action is Action.CLOSE:
            return await service.close(task.id, TRACKER, reason, expected_version=version)
        return await service.cancel(task.id, TRACKER, reason, expected_version=version)

    async def _start(self, project: TrackerProject, item: WorkItem, tally: Tally) -> Task:
        """The start case: an approved item becomes a task (and starts, if configured)."""
        repo = self._config.repo_for(project.identifier)
        description = html_to_text(item.description)
        try:
            task = await self._create(repo, item, item.key, description)
        except DuplicateTask:
            # The key is taken by a task made in the chat: let the store number this one.
            task = await self._create(repo, item, None, description)
        tally.change(task.key, "created")
        if self._config.start_approved:
            task = await self._pipeline.approve(task.id, TRACKER, expected_version=task.version,
                                                reason="approved in Plane")
        return task

    async def _create(self, repo: str, item: WorkItem, key: str | None,
                      description: str) -> Task:
        return await self._pipeline.create(repo, item.name, TRACKER, key=key,
                                           description=description, tracker_id=item.id,
                                           source="plane")
