"""The reconciler: keeps the pipeline in step with the tracker, quietly.

`tick()` is a step function: for each followed project it reads the items changed since
the watermark (all of them on a full resync), decides per item with the pure rules of
`core.sync.rules`, moves tasks only through the PipelineService, and returns what it
saw and changed. It never raises: a failing item is logged, counted and retried on the
next tick by a targeted read; a failing project keeps its watermark, so nothing is lost.

Between ticks, `run()` (owned by the runtime) does prompt work: webhook hints become
targeted reconciles, and the write-back queue is drained. Ticks, targeted reconciles and
write-backs share one lock, so a write and a read never interleave.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.clock import Clock
from core.errors import TrackerRejected
from core.pipeline.service import PipelineService
from core.pipeline.stages import TERMINAL
from core.ports import DependencySink, SyncStore, Tracker, TrackerMeter
from core.queue_view import QueueBlock
from core.ratebudget import RateBudget
from core.sync.config import SyncConfig
from core.sync.moves import TaskMoves
from core.sync.records import ItemRecord, SyncPosition
from core.sync.report import ReconcilerStats, Tally, TickReport, reconcile_block
from core.sync.rules import (
    Standing,
    UnblockGuard,
    judge,
    remembered,
    standing_of,
)
from core.sync.states_cache import ProjectStates, StatesCache
from core.sync.writeback import WriteBack
from core.tracker import TrackerProject, WorkItem, iter_items

log = logging.getLogger("orch.reconciler")

MAX_HINTS = 1000


@dataclass(frozen=True, slots=True)
class _Scope:
    """One project as a reconcile sees it."""

    project: TrackerProject
    states: ProjectStates
    full: bool


class Reconciler:
    """Tracker → pipeline each tick; pipeline → tracker through its WriteBack."""

    def __init__(
        self,
        *,
        tracker: Tracker,
        states: StatesCache,
        pipeline: PipelineService,
        store: SyncStore,
        clock: Clock,
        config: SyncConfig,
        dependencies: DependencySink | None = None,
        meter: TrackerMeter | None = None,
        budget: RateBudget | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._tracker = tracker
        self._states = states
        self._pipeline = pipeline
        self._store = store
        self._clock = clock
        self._config = config
        self._meter = meter
        self._budget = budget
        self._timer = timer
        self.writeback = WriteBack(tracker, states, store, clock, source=tracker.name,
                                   stage_states=config.stage_states, wake=self._poke)
        self.guard = UnblockGuard()
        self._moves = TaskMoves(pipeline, config, self.guard, tracker, dependencies)
        self.stats = ReconcilerStats()
        self._lock = asyncio.Lock()
        self._projects: dict[str, TrackerProject] | None = None
        self._projects_at: datetime | None = None
        self._seen: dict[str, datetime] = {}  # item id → updated_at last reconciled
        self._retry: dict[str, str] = {}  # item id → project id, failed last time
        self._hints: dict[str, str] = {}  # item id → project id, from webhooks
        self.wake: Callable[[], None] = _nothing  # the runtime's pacer: work_off soon

    # -- the step functions -----------------------------------------------------------

    async def tick(self, *, full: bool = False) -> TickReport:
        """One reconcile of every followed project (a full resync when due or asked)."""
        async with self._lock:
            return await self._measured(lambda tally: self._tick(tally, full), tick=True)

    async def reconcile_item(self, project_id: str, item_id: str) -> TickReport:
        """Reconcile one item now (a webhook said it changed)."""
        async with self._lock:
            return await self._measured(
                lambda tally: self._targeted(project_id, item_id, tally), tick=False)

    async def resync(self) -> TickReport:
        """A full resync now, whatever the schedule."""
        return await self.tick(full=True)

    # -- prompt work between ticks ----------------------------------------------------

    def hint(self, project_id: str | None, item_id: str) -> bool:
        """Ask for a prompt reconcile of an item (non-blocking); False if not queued."""
        if project_id is None:
            return False
        if item_id not in self._hints and len(self._hints) >= MAX_HINTS:
            self.stats.hints_dropped += 1
            return False
        self._hints[item_id] = project_id
        self._poke()
        return True

    async def work_off(self) -> None:
        """Reconcile the hinted items and do the queued write-backs, now."""
        async with self._lock:
            await self._measured(self._hinted, tick=False)

    async def queue_block(self) -> QueueBlock:
        """The reconcile block of /queue (QueueBlockSource)."""
        budget = (self._budget.remaining, self._budget.limit) if self._budget else None
        return reconcile_block(self.stats, budget, self.writeback.pending)

    def _poke(self) -> None:
        # The runtime paces `work_off` on the scheduler (core.pacer.Pacer); a failed
        # write-back waits for the next tick or the next move: never a hot loop.
        self.wake()

    # -- one tick -----------------------------------------------------------------------

    async def _measured(self, body: Callable[[Tally], Awaitable[None]], *,
                        tick: bool) -> TickReport:
        tally = Tally(self._clock.now())
        calls, waits, started = self._calls(), self._waits(), self._timer()
        try:
            await body(tally)
        except Exception as exc:  # never raise: the scheduler must see a clean return
            tally.fail("tick" if tick else "targeted reconcile", exc)
        report = tally.report(self._timer() - started, self._calls() - calls,
                              self._waits() - waits)
        self.stats.add(report, tick=tick)
        return report

    async def _tick(self, tally: Tally, full: bool) -> None:
        self._hints.clear()  # the listing below sees whatever they pointed at
        projects = await self._followed(refresh=full)
        await self._retry_failed(projects, tally)
        for project in projects.values():
            try:
                await self._sync_project(project, tally, full)
            except Exception as exc:
                tally.fail(project.identifier, exc)
        await self._drain(tally)

    async def _hinted(self, tally: Tally) -> None:
        while self._hints:
            item_id, project_id = next(iter(self._hints.items()))
            del self._hints[item_id]
            await self._targeted(project_id, item_id, tally)
        await self._drain(tally)

    async def _drain(self, tally: Tally) -> None:
        tally.writebacks += await self.writeback.drain()

    async def _followed(self, *, refresh: bool) -> dict[str, TrackerProject]:
        """The followed projects; the list is re-read on each resync interval."""
        now = self._clock.now()
        due = self._projects_at is None or now - self._projects_at >= self._resync_interval
        if self._projects is None or refresh or due:
            listed = await self._tracker.projects()
            self._projects = {p.id: p for p in listed if self._config.follows(p.id, p.identifier)}
            self._projects_at = now
            known = {name for p in listed for name in (p.id, p.identifier)}
            for missing in sorted(set(self._config.projects) - known):
                log.warning("project %s is not visible to orch's %s key", missing,
                            self._tracker.name)
        return self._projects

    async def _sync_project(self, project: TrackerProject, tally: Tally, force: bool) -> None:
        states = await self._states.get(project.id)
        if not states.fetched and not states.ids:
            tally.fail(project.identifier, RuntimeError("states never fetched; nothing to go by"))
            return
        position = await self._store.position(project.id)
        scope = _Scope(project, states, force or self._full_due(position))
        tally.full = tally.full or scope.full
        since = None if scope.full or position.watermark is None else (
            position.watermark - timedelta(seconds=self._config.overlap_s))
        newest = await self._walk(scope, since, position.watermark, tally)
        await self._advance(project.id, position, newest, full=since is None)

    async def _walk(self, scope: _Scope, since: datetime | None, newest: datetime | None,
                    tally: Tally) -> datetime | None:
        """Reconcile the items changed since `since` (all: None); the newest updated_at."""
        records = await self._store.records(scope.project.id)
        size = self._config.full_page_size if since is None else self._config.page_size
        listed: set[str] = set()
        async for item in iter_items(self._tracker, scope.project.id, since=since, per_page=size):
            listed.add(item.id)
            tally.seen += 1
            newest = item.updated_at if newest is None else max(newest, item.updated_at)
            record = records.get(item.id)
            await self._one(scope, item, record, tally, skip_repeats=since is not None)
        if since is None:  # a complete walk: followed items it did not meet may be gone
            await self._vanished(scope, records, listed, tally)
        return newest

    async def _advance(self, project_id: str, old: SyncPosition, newest: datetime | None,
                       *, full: bool) -> None:
        now = self._clock.now()
        new = SyncPosition(newest, now if full else old.full_sync_at)
        if new != old:
            await self._store.save_position(project_id, new, now)

    def _full_due(self, position: SyncPosition) -> bool:
        last = position.full_sync_at
        return last is None or self._clock.now() - last >= self._resync_interval

    @property
    def _resync_interval(self) -> timedelta:
        return timedelta(seconds=self._config.resync_interval_s)

    async def _retry_failed(self, projects: dict[str, TrackerProject], tally: Tally) -> None:
        for item_id, project_id in list(self._retry.items())[: self._config.retries_per_tick]:
            if project_id not in projects:
                self._retry.pop(item_id, None)
                continue
            errors = tally.errors
            await self._guarded(item_id, project_id, item_id, tally,
                                self._targeted(project_id, item_id, tally, skip_repeats=False))
            if tally.errors > errors:
                return  # still failing: the tracker is likely down, spare the budget

    # -- one item -----------------------------------------------------------------------

    async def _targeted(self, project_id: str, item_id: str, tally: Tally,
                        *, skip_repeats: bool = True) -> None:
        project = (await self._followed(refresh=False)).get(project_id)
        if project is None:
            return  # not a project orch follows
        scope = _Scope(project, await self._states.get(project_id), full=False)
        try:
            item = await self._tracker.item(project_id, item_id)
        except TrackerRejected as exc:
            if exc.status != 404:
                raise
            if (record := await self._store.record(item_id)) is not None:
                await self._guarded(record.key, project_id, item_id, tally,
                                    self._deleted(record, tally))
            return
        tally.seen += 1
        record = await self._store.record(item_id)
        await self._one(scope, item, record, tally, skip_repeats=skip_repeats, lookup=True)

    async def _one(self, scope: _Scope, item: WorkItem, record: ItemRecord | None,
                   tally: Tally, *, skip_repeats: bool, lookup: bool = False) -> None:
        if skip_repeats and self._repeat(item, record):
            tally.repeats += 1
            return
        done = await self._guarded(item.key, scope.project.id, item.id, tally,
                                   self._reconcile(scope, item, record, tally, lookup))
        if done:
            self._seen[item.id] = item.updated_at

    async def _guarded(self, key: str, project_id: str, item_id: str, tally: Tally,
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

    def _repeat(self, item: WorkItem, record: ItemRecord | None) -> bool:
        if self._seen.get(item.id) == item.updated_at:
            return True
        return record is not None and record.seen_updated_at == item.updated_at

    async def _reconcile(self, scope: _Scope, item: WorkItem, record: ItemRecord | None,
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
        new = remembered(record, item.id, scope.project.id, item.key, item.state_id,
                         item.updated_at)
        if new != record:
            await self._store.save(new, self._clock.now())
        if task.stage not in TERMINAL and (scope.full or record is None
                                           or record.seen_updated_at != item.updated_at):
            await self._moves.relations(scope.project.id, item.id, task)

    async def _vanished(self, scope: _Scope, records: dict[str, ItemRecord], listed: set[str],
                        tally: Tally) -> None:
        """Followed items a full walk did not meet: deleted, or missed by a shifting page.
        One targeted read tells which (a tracker may send nothing when an item is deleted)."""
        for record in records.values():
            if record.item_id not in listed:
                await self._guarded(record.key, scope.project.id, record.item_id, tally,
                                    self._targeted(scope.project.id, record.item_id, tally,
                                                   skip_repeats=False))

    async def _deleted(self, record: ItemRecord, tally: Tally) -> None:
        await self._moves.deleted(record, tally)
        await self._store.forget(record.item_id)
        self._seen.pop(record.item_id, None)

    def _calls(self) -> int:
        return self._meter.calls if self._meter else 0

    def _waits(self) -> int:
        own = self._budget.waits if self._budget else 0
        return own + (self._meter.rate_limit_waits if self._meter else 0)


def _nothing() -> None:
    """No one to tell (tests call work_off themselves)."""
