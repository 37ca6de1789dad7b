"""What a reconcile does to tasks once the rules have decided: the effects, in one place.

Every change goes through the PipelineService with the task's version, so a task that
moved meanwhile is never overwritten (StaleVersion: the item is retried next tick).
"""

from __future__ import annotations

from core.errors import DuplicateTask, TrackerRejected
from core.pipeline.service import PipelineService
from core.pipeline.stages import TERMINAL
from core.pipeline.tasks import Actor, Task
from core.ports import DependencySink, TrackerReader
from core.sync.config import SyncConfig
from core.sync.records import ItemBlocker, ItemRecord
from core.sync.report import Tally
from core.sync.rules import SyncAction, UnblockGuard
from core.sync.states_cache import ProjectStates
from core.tracker import StateGroup, TrackerProject, WorkItem

_PAST = {SyncAction.BLOCK: "blocked", SyncAction.UNBLOCK: "unblocked", SyncAction.CLOSE: "closed",
         SyncAction.CANCEL: "cancelled"}


class TaskMoves:
    """Applies a decided SyncAction to the item's task (creating it in the start case)."""

    def __init__(self, pipeline: PipelineService, config: SyncConfig, guard: UnblockGuard,
                 tracker: TrackerReader, dependencies: DependencySink | None) -> None:
        self._pipeline = pipeline
        self._config = config
        self._guard = guard
        self._tracker = tracker
        self._deps = dependencies
        self.source = tracker.name  # the tracker's name: its tasks' source, its moves' actor
        self._actor = Actor(tracker.name)
        self._where = f"in {tracker.name.capitalize()}"  # for reasons people read

    async def apply(self, action: SyncAction, project: TrackerProject, states: ProjectStates,
                    item: WorkItem, task: Task | None, tally: Tally) -> Task | None:
        """The item's task after the action; None when the item has no task."""
        if action is SyncAction.SKIP_TERMINAL:
            tally.skipped_terminal += 1
            return None
        if action is SyncAction.CREATE:
            return await self._start(project, item, tally)
        if task is None or action is SyncAction.NOTHING:
            return task
        name = states.names.get(item.state_id, "another state")
        by = f" by {item.changed_by}" if item.changed_by else ""
        moved = await self._move(action, task, item, f"moved to {name} {self._where}{by}",
                                 tally)
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
            blocker = await self._pipeline.find_by_tracker_item(blocker_id)
            if blocker is not None:
                keys.append(blocker.key)
            elif (untracked := await self._untracked(project_id, states, blocker_id)):
                items.append(untracked)
        await self._deps.ingest_relations(task, keys, source=self.source,
                                          blocked_by_items=items)

    async def deleted(self, record: ItemRecord, tally: Tally, *, by: str | None = None) -> None:
        """The item is gone from the tracker, confirmed: its task stops, with the reason."""
        task = await self._pipeline.find_by_tracker_item(record.item_id)
        if task is not None and task.stage not in TERMINAL:
            why = (f"{record.key} was deleted {self._where} (confirmed by {by})" if by else
                   f"{record.key} was deleted {self._where} (absent and 404 on two full "
                   f"resyncs)")
            await self._pipeline.cancel(task.id, self._actor, why, expected_version=task.version)
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

    async def _move(self, action: SyncAction, task: Task, item: WorkItem, reason: str,
                    tally: Tally) -> Task | None:
        service, version, actor = self._pipeline, task.version, self._actor
        if action is SyncAction.BLOCK:
            return await service.block(task.id, actor, reason, expected_version=version)
        if action is SyncAction.UNBLOCK:
            if not self._guard.admit(item.id, item.state_id):
                tally.deduped += 1
                return None
            return await service.unblock(task.id, actor, reason=reason, expected_version=version)
        if action is SyncAction.CLOSE:
            return await service.close(task.id, actor, reason, expected_version=version)
        return await service.cancel(task.id, actor, reason, expected_version=version)

    async def _start(self, project: TrackerProject, item: WorkItem, tally: Tally) -> Task:
        """The start case: an approved item becomes a task (and starts, if configured)."""
        repo = self._config.repo_for(project.identifier)
        try:
            task = await self._create(repo, item, item.key)
        except DuplicateTask:
            # The key is taken by a task made in the chat: let the store number this one.
            task = await self._create(repo, item, None)
        tally.change(task.key, "created")
        if self._config.start_approved:
            task = await self._pipeline.approve(task.id, self._actor,
                                                expected_version=task.version,
                                                reason=f"approved {self._where}")
        return task

    async def _create(self, repo: str, item: WorkItem, key: str | None) -> Task:
        return await self._pipeline.create(repo, item.name, self._actor, key=key,
                                           description=item.description, tracker_id=item.id,
                                           source=self.source)
