"""One item's reconcile: judge it, move its task, remember it, read its relations, and on
a full resync compare the state its task means with the state the tracker reports.

Failures are isolated per item: counted, and retried next tick by a targeted read.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from core.clock import Clock
from core.pipeline.service import PipelineService
from core.pipeline.stages import TERMINAL
from core.ports import DependencySink, SyncStore, Tracker
from core.sync.config import SyncConfig
from core.sync.moves import TaskMoves
from core.sync.records import ItemRecord
from core.sync.report import Tally
from core.sync.rules import (
    Standing,
    UnblockGuard,
    judge,
    remembered,
    standing_of,
    synced_after,
)
from core.sync.states_cache import ProjectStates
from core.sync.vanish import Vanishing
from core.sync.writeback import WriteBack
from core.tracker import StateGroup, TrackerProject, WorkItem

log = logging.getLogger("orch.reconciler")

Targeted = Callable[..., Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Scope:
    """One project as a reconcile sees it; `full` on a full resync."""

    project: TrackerProject
    states: ProjectStates
    full: bool


class ItemSync:
    """The per-item half of the reconciler."""

    def __init__(self, tracker: Tracker, pipeline: PipelineService, store: SyncStore,
                 clock: Clock, config: SyncConfig, writeback: WriteBack, vanishing: Vanishing,
                 dependencies: DependencySink | None) -> None:
        self._tracker = tracker
        self._pipeline = pipeline
        self._store = store
        self._clock = clock
        self._config = config
        self._writeback = writeback
        self._vanishing = vanishing
        self._deps = dependencies
        self.guard = UnblockGuard()
        self._moves = TaskMoves(pipeline, config, self.guard, tracker, dependencies)
        self.blockers: set[str] = set()  # items without a task that some task waits for
        self._seen: dict[str, datetime] = {}  # item id → updated_at last reconciled
        self._retry: dict[str, str] = {}  # item id → project id, failed last time
        self._relations_owed: set[str] = set()

    async def one(self, scope: Scope, item: WorkItem, record: ItemRecord | None,
                  tally: Tally, *, skip_repeats: bool, lookup: bool = False) -> None:
        if item.id in self.blockers:
            await self.guarded(item.key, scope.project.id, item.id, tally,
                               self._blocker(scope, item, tally))
        if skip_repeats and self._repeat(item, record):
            tally.repeats += 1
            return
        done = await self.guarded(item.key, scope.project.id, item.id, tally,
                                  self._reconcile(scope, item, record, tally, lookup))
        if done:
            self._seen[item.id] = item.updated_at

    async def guarded(self, key: str, project_id: str, item_id: str, tally: Tally,
                      work: Awaitable[None]) -> bool:
        """Run one item's work in isolation: a failure is counted and retried next tick."""
        try:
            await work
        except Exception as exc:
            tally.fail(key, exc)
            self._retry[item_id] = project_id
            self._seen.pop(item_id, None)
            return False
        self._retry.pop(item_id, None)
        return True

    async def retry_failed(self, projects: dict[str, TrackerProject], tally: Tally,
                           targeted: Targeted) -> None:
        for item_id, project_id in list(self._retry.items())[: self._config.retries_per_tick]:
            if project_id not in projects:
                self._retry.pop(item_id, None)
                continue
            errors = tally.errors
            await self.guarded(item_id, project_id, item_id, tally,
                               targeted(project_id, item_id, tally, skip_repeats=False))
            if tally.errors > errors:
                return  # still failing: the tracker is likely down, spare the budget

    async def deleted(self, record: ItemRecord, tally: Tally, *, confirmed: bool,
                      by: str | None = None) -> None:
        """The item is gone for good (confirmed): its task stops, with the reason."""
        await self._moves.deleted(record, tally, by=by)
        await self._store.forget(record.item_id)
        self._seen.pop(record.item_id, None)

    def _repeat(self, item: WorkItem, record: ItemRecord | None) -> bool:
        if self._seen.get(item.id) == item.updated_at:
            return True
        return record is not None and record.seen_updated_at == item.updated_at

    async def _reconcile(self, scope: Scope, item: WorkItem, record: ItemRecord | None,
                         tally: Tally, lookup: bool) -> None:
        now = standing_of(scope.states, item.state_id)
        if now is Standing.BLOCKED:
            self.guard.seen_blocked(item.id)
        task = None
        if record is not None or lookup or now is Standing.APPROVED:  # else: no task
            task = await self._pipeline.find_by_tracker_item(item.id)
        action = judge(scope.states, item.state_id, record, task.stage if task else None)
        task = await self._moves.apply(action, scope.project, scope.states, item, task, tally)
        if task is None:
            return  # not followed: nothing to remember
        if record is not None and record.missing_since is not None:
            await self._vanishing.present(record)
        synced = synced_after(record, item.state_id, action, task.version)
        new = remembered(record, item.id, scope.project.id, item.key, item.state_id,
                         item.updated_at, synced)
        if new != record:
            await self._store.save(new, self._clock.now())
        if task.stage not in TERMINAL and self._relations_due(scope, item, record):
            self._relations_owed.add(item.id)  # until read: a failure is retried in full
            await self._moves.relations(scope.project.id, scope.states, item.id, task)
            self._relations_owed.discard(item.id)
        if scope.full and record is not None:
            await self._writeback.repair(new, item, task)

    def _relations_due(self, scope: Scope, item: WorkItem, record: ItemRecord | None) -> bool:
        """Once per changed item; orch's own write coming back is no change of relations."""
        if scope.full or record is None or item.id in self._relations_owed:
            return True
        if record.seen_updated_at == item.updated_at:
            return False
        return item.state_id != record.written_state_id

    async def _blocker(self, scope: Scope, item: WorkItem, tally: Tally) -> None:
        """An item some task waits for, without a task of its own, changed: record its
        group where it is seen; a release is announced there and then, once."""
        if self._deps is None:
            return
        group = scope.states.group_of(item.state_id)
        released = group is StateGroup.COMPLETED or (
            group is StateGroup.CANCELLED and self._config.cancelled_releases)
        announced = await self._deps.item_moved(item.id, str(group or "unknown"), released)
        tally.released += len(announced)
        if released:
            self.blockers.discard(item.id)
