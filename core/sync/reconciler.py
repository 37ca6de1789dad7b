"""The reconciler: keeps the pipeline in step with the tracker, quietly and safely.

`tick()` is a step function: for each followed project it reads the items changed since
the watermark (all of them on a full resync), decides per item with the pure rules of
`core.sync.rules`, moves tasks only through the PipelineService, and returns what it
saw and changed. It never raises: a failing item is logged, counted and retried on the
next tick by a targeted read; a failing project keeps its watermark, so nothing is lost.

What it never does: cancel a task because its item seems gone (core.sync.vanish decides
that over two full resyncs), treat lost access as deletion, overwrite a person's move
(core.sync.writeback reads before it writes), or keep calling a tracker that asked it to
wait (the shared RateBudget pauses every call; past the cap the tick does not start).

Between ticks, `run()` (owned by the runtime) does prompt work: webhook hints become
targeted reconciles, and the write-back rows are drained. Ticks, targeted reconciles,
write-backs and confirmations share one lock, so they never overlap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from core.clock import Clock
from core.errors import TrackerError, TrackerRateLimited, TrackerRejected
from core.pipeline.service import PipelineService
from core.pipeline.tasks import Actor
from core.ports import (
    DependencySink,
    PauseStore,
    SyncStore,
    Tracker,
    TrackerMeter,
    WriteBackStore,
)
from core.queue_view import QueueBlock
from core.ratebudget import RateBudget
from core.sync.budget_keeper import BudgetKeeper
from core.sync.config import SyncConfig
from core.sync.health import SyncHealth, health_lines, missing_note
from core.sync.items import ItemSync, Scope
from core.sync.records import ItemRecord, SyncPosition
from core.sync.report import ReconcilerStats, Tally, TickReport, reconcile_block
from core.sync.states_cache import StatesCache
from core.sync.vanish import Pause, Vanishing
from core.sync.walk import Walk
from core.sync.writeback import WriteBack
from core.tracker import TrackerProject, WorkItem

log = logging.getLogger("orch.reconciler")

MAX_HINTS = 1000


class LostAccess(TrackerError):
    """The key sees no project: access was lost (or never given), nothing was deleted."""


class Reconciler:
    """Tracker → pipeline each tick; pipeline → tracker through its WriteBack."""

    def __init__(
        self,
        *,
        tracker: Tracker,
        states: StatesCache,
        pipeline: PipelineService,
        store: SyncStore,
        outbox: WriteBackStore,
        pauses: PauseStore,
        clock: Clock,
        config: SyncConfig,
        dependencies: DependencySink | None = None,
        meter: TrackerMeter | None = None,
        budget: RateBudget | None = None,
        keeper: BudgetKeeper | None = None,
        timer: Callable[[], float] = time.perf_counter,
        refresh_card: Callable[[int], None] = lambda _: None,
        alert: Callable[[Pause], Awaitable[None] | None] | None = None,
    ) -> None:
        self._tracker = tracker
        self._states = states
        self._pipeline = pipeline
        self._store = store
        self._pauses = pauses
        self._clock = clock
        self._config = config
        self._deps = dependencies
        self._meter = meter
        self._budget = budget
        self._keeper = keeper
        self._timer = timer
        self._refresh_card = refresh_card
        self._alert = alert
        self.writeback = WriteBack(tracker, states, store, outbox, clock, source=tracker.name,
                                   stage_states=config.stage_states, wake=self._poke)
        self._name = tracker.name.capitalize()  # for lines people read
        self.vanishing = Vanishing(store, pauses, clock, config.vanish,
                                   on_marked=self._marked, on_paused=self._paused)
        self.items = ItemSync(tracker, pipeline, store, clock, config, self.writeback,
                              self.vanishing, dependencies)
        self.guard = self.items.guard
        self.stats = ReconcilerStats()
        self.health = SyncHealth()
        self._lock = asyncio.Lock()
        self._projects: dict[str, TrackerProject] | None = None
        self._projects_at: datetime | None = None
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

    async def confirm_pause(self, pause_id: int, actor: Actor) -> tuple[Pause, int] | None:
        """A person confirms a mass disappearance: the project's sync resumes, and the
        tasks of its items that still answer 404 are cancelled. (pause, cancelled)."""
        async with self._lock:
            pause = await self._pauses.confirm(pause_id, str(actor), self._clock.now())
            if pause is None:
                return None
            tally = Tally(self._clock.now())
            for record in await self._store.missing():
                if record.project_id == pause.project_id:
                    await self.items.guarded(record.key, record.project_id, record.item_id,
                                             tally, self._confirmed_gone(record, actor, tally))
            self.stats.add(tally.report(0.0, 0, 0), tick=False)
            return pause, len(tally.changes)

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
        """Reconcile the hinted items and do the due write-backs, now."""
        async with self._lock:
            await self._measured(self._hinted, tick=False)

    async def queue_block(self) -> QueueBlock:
        """The reconcile block of /queue (QueueBlockSource)."""
        budget = (self._budget.remaining, self._budget.limit) if self._budget else None
        block = reconcile_block(self.stats, budget, self.writeback.pending)
        notes = health_lines(self.health, self._clock.now(), await self._pauses.open_pauses(),
                             await self._store.missing(), self._name)
        return QueueBlock(block.title, (*block.lines, *notes),
                          {**block.data, "notes": notes})

    async def card_note(self, task: object) -> str | None:
        """The card's line for a task whose item seems gone (TelegramNotifier note)."""
        item_id = getattr(task, "tracker_id", None)
        if not item_id:
            return None
        return missing_note(await self._store.record(item_id), self._name)

    @property
    def config(self) -> SyncConfig:
        return self._config

    def tell(self, *, refresh_card: Callable[[int], None],
             alert: Callable[[Pause], Awaitable[None] | None]) -> None:
        """Where the chat hears of missing marks (a card refresh) and of a pause (one
        alert); the runtime wires these once the chat exists."""
        self._refresh_card = refresh_card
        self._alert = alert

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
            if self._keeper is not None:
                await self._keeper.load_once()
            if not self._rate_paused(tally):
                await body(tally)
        except Exception as exc:  # never raise: the scheduler must see a clean return
            self._note_stop(exc)
            tally.fail("tick" if tick else "targeted reconcile", exc)
        await self._save_budget()
        report = tally.report(self._timer() - started, self._calls() - calls,
                              self._waits() - waits)
        self.stats.add(report, tick=tick)
        return report

    async def _save_budget(self) -> None:
        if self._keeper is None:
            return
        try:
            await self._keeper.save()
        except Exception:  # the budget is an optimisation: a failed save never breaks a tick
            log.exception("could not save the request budget")

    def _rate_paused(self, tally: Tally) -> bool:
        """True while the tracker's Retry-After is longer than orch waits in place."""
        if self._budget is None or self._budget.pause_left() <= 0:
            return False
        tally.rate_paused = True
        return True

    async def _tick(self, tally: Tally, full: bool) -> None:
        self._hints.clear()  # the listing below sees whatever they pointed at
        projects = await self._followed(refresh=full)
        paused = {p.project_id for p in await self._pauses.open_pauses()}
        self.items.blockers = await self._deps.open_item_blockers() if self._deps else set()
        await self.items.retry_failed(projects, tally, self._targeted)
        for project in projects.values():
            if project.id in paused:
                tally.paused_projects += 1
                continue
            try:
                await self._sync_project(project, tally, full)
            except Exception as exc:
                tally.fail(project.identifier, exc)
                if self._note_stop(exc):
                    return  # lost access or told to wait: the other projects would fail too
        self.health.access_lost = None  # every project answered
        await self._drain(tally)

    def _note_stop(self, exc: Exception) -> bool:
        """Remember a condition that stops the whole sync; True if `exc` is one."""
        if isinstance(exc, TrackerRejected) and exc.status in (401, 403):
            self.health.access_lost = f"{exc.status}: {exc}"
            return True
        if isinstance(exc, LostAccess):
            self.health.access_lost = str(exc)
            return True
        if isinstance(exc, TrackerRateLimited):
            self.health.rate_paused_for_s = exc.retry_after
            self.health.rate_paused_until = self._clock.now() + timedelta(
                seconds=exc.retry_after)
            return True
        return False

    async def _hinted(self, tally: Tally) -> None:
        while self._hints:
            item_id, project_id = next(iter(self._hints.items()))
            del self._hints[item_id]
            await self._targeted(project_id, item_id, tally)
        await self._drain(tally)

    async def _drain(self, tally: Tally) -> None:
        async def person_moved(item: WorkItem) -> None:
            await self._targeted_item(item, tally)

        tally.writebacks += await self.writeback.drain(person_moved)
        if self._deps is not None:
            tally.released += len(await self._deps.release_ready())

    async def _followed(self, *, refresh: bool) -> dict[str, TrackerProject]:
        """The followed projects; the list is re-read on each resync interval."""
        now = self._clock.now()
        due = self._projects_at is None or now - self._projects_at >= self._resync_interval
        if self._projects is None or refresh or due:
            listed = await self._tracker.projects()
            if not listed:
                raise LostAccess("the key sees no project at all")
            self.health.access_lost = None
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
        full = force or self._full_due(position)
        since = None if full or position.watermark is None else (
            position.watermark - timedelta(seconds=self._config.overlap_s))
        config = self._config
        deadline = tally.started_at + timedelta(seconds=config.tick_budget_s)
        walk = Walk(self._tracker, project.id, since, first_page=config.page_size,
                    big_page=config.full_page_size, bulk_pages=config.bulk_pages,
                    max_pages=config.max_pages,
                    past_deadline=lambda: self._clock.now() >= deadline)
        records = await self._store.records(project.id)
        listed: set[str] = set()
        newest = position.watermark
        async for item in walk.items():
            listed.add(item.id)
            tally.seen += 1
            newest = item.updated_at if newest is None else max(newest, item.updated_at)
            await self.items.one(Scope(project, states, walk.full), item, records.get(item.id),
                                 tally, skip_repeats=not walk.full)
        if walk.yielded:  # the rest next tick, from the same watermark
            tally.yielded += 1
            return
        tally.full = tally.full or walk.full
        if walk.full and walk.complete:
            await self._vanished(Scope(project, states, True), records, listed, tally)
        await self._advance(project.id, position, newest, full=walk.full)

    async def _vanished(self, scope: Scope, records: dict[str, ItemRecord], listed: set[str],
                        tally: Tally) -> None:
        """Followed items a complete walk did not meet: deleted, or not seen this time.
        Nothing is concluded from an empty listing of a project orch follows items in."""
        open_items = {t.tracker_id for t in await self._pipeline.open_tasks() if t.tracker_id}
        followed = [r for r in records.values() if r.item_id in open_items]
        if not listed:
            if followed:
                tally.fail(scope.project.identifier,
                           TrackerError("an empty listing; nothing is concluded from it"))
            return
        gone: list[ItemRecord] = []
        for record in followed:
            if record.item_id in listed:
                continue
            try:
                item = await self._tracker.item(scope.project.id, record.item_id)
            except TrackerRejected as exc:
                if exc.status != 404:
                    raise
                gone.append(record)
                continue
            tally.seen += 1
            await self.items.one(scope, item, record, tally, skip_repeats=False, lookup=True)
        verdict = await self.vanishing.judge(scope.project.id, scope.project.identifier, gone,
                                             len(followed))
        tally.missing += len(verdict.marked)
        for record in verdict.confirmed:
            await self.items.guarded(record.key, scope.project.id, record.item_id, tally,
                                     self.items.deleted(record, tally, confirmed=True))

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

    # -- one item -----------------------------------------------------------------------

    async def _targeted(self, project_id: str, item_id: str, tally: Tally,
                        *, skip_repeats: bool = True) -> None:
        project = (await self._followed(refresh=False)).get(project_id)
        if project is None:
            return  # not a project orch follows
        if project_id in {p.project_id for p in await self._pauses.open_pauses()}:
            return
        try:
            item = await self._tracker.item(project_id, item_id)
        except TrackerRejected as exc:
            if exc.status != 404:
                raise
            if (record := await self._store.record(item_id)) is not None:
                tally.missing += int(await self.vanishing.suspect(record))
            return
        tally.seen += 1
        scope = Scope(project, await self._states.get(project_id), full=False)
        await self.items.one(scope, item, await self._store.record(item_id), tally,
                             skip_repeats=skip_repeats, lookup=True)

    async def _targeted_item(self, item: WorkItem, tally: Tally) -> None:
        """A write-back found a person's move: apply it to the task like any change."""
        project = (await self._followed(refresh=False)).get(item.project_id)
        if project is None:
            return
        scope = Scope(project, await self._states.get(project.id), full=False)
        await self.items.one(scope, item, await self._store.record(item.id), tally,
                             skip_repeats=False, lookup=True)

    async def _confirmed_gone(self, record: ItemRecord, actor: Actor, tally: Tally) -> None:
        try:
            item = await self._tracker.item(record.project_id, record.item_id)
        except TrackerRejected as exc:
            if exc.status != 404:
                raise
            await self.items.deleted(record, tally, confirmed=True, by=actor.label)
            return
        await self.vanishing.present(record)  # it came back meanwhile
        await self._targeted_item(item, tally)

    async def _marked(self, item_id: str) -> None:
        task = await self._pipeline.find_by_tracker_item(item_id)
        if task is not None:
            self._refresh_card(task.id)

    async def _paused(self, pause: Pause) -> None:
        if self._alert is not None:
            outcome = self._alert(pause)
            if outcome is not None:
                await outcome

    def _calls(self) -> int:
        return self._meter.calls if self._meter else 0

    def _waits(self) -> int:
        own = self._budget.waits if self._budget else 0
        return own + (self._meter.rate_limit_waits if self._meter else 0)


def _nothing() -> None:
    """No one to tell (tests call work_off themselves)."""
