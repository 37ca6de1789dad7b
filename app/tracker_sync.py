"""The tracker sync as the running process holds it: built from the configured tracker's
kind (app/trackers.py), paced on the one scheduler (PTB's JobQueue), its webhook route
served by the HTTP app. `orch run`, the demo and the
end-to-end tests all build it here."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import BaseRoute
from telegram import Update
from telegram.ext import BaseHandler

from app.trackers import configured_tracker
from app.webhook_routes import tracker_webhook_route
from bot.chat_render import TelegramRenderer
from bot.chat_sender import markup_json
from bot.context import Services
from bot.handlers.sync import confirm_markup
from bot.handlers.sync import handlers as sync_buttons
from core.clock import Clock
from core.config import Settings
from core.pacer import Pacer
from core.pipeline.service import PipelineService
from core.ports import DeliveryLog, DependencySink, NotifierHub, Scheduler
from core.queue_view import QueueService
from core.sync.budget_keeper import BudgetKeeper
from core.sync.config import SyncConfig
from core.sync.kind import TrackerConnection, TrackerKind
from core.sync.reconciler import Reconciler
from core.sync.report import TickReport
from core.sync.states_cache import StatesCache
from core.sync.vanish import Pause
from core.sync.waits import TrackerWaits
from storage.database import Database
from storage.instance import SqliteDeliveryLog
from storage.rate_budgets import SqliteBudgetStore
from storage.tracker_items import SqliteSyncStore
from storage.tracker_pauses import SqlitePauseStore
from storage.tracker_writebacks import SqliteWriteBackStore

JOB_NAME = "tracker-reconcile"


@dataclass
class TrackerSync:
    """Everything the tracker sync is made of, for the runtime to start, serve and stop."""

    name: str
    connection: TrackerConnection
    states: StatesCache
    reconciler: Reconciler
    deliveries: DeliveryLog
    clock: Clock
    pacers: list[Pacer] = field(default_factory=list)  # set by pace_tracker

    def routes(self) -> list[BaseRoute]:
        """The HTTP app's `extra_routes`: POST /hooks/<tracker name>."""
        return [tracker_webhook_route(self.reconciler, self.connection.webhooks,
                                      self.deliveries, self.clock, tracker=self.name)]

    def cancel_ticks(self) -> None:
        """Stop the steps in flight and pace no more: PTB shields a job and waits for it
        on stop, so a tick hanging on the tracker would otherwise hold a shutdown."""
        for pacer in self.pacers:
            pacer.stop()

    async def aclose(self) -> None:
        await self.connection.close()


def tracker_configured(settings: Settings) -> bool:
    """True when the settings configure a tracker orch can sync with."""
    return configured_tracker(settings) is not None


def build_tracker_sync(
    settings: Settings,
    clock: Clock,
    db: Database,
    pipeline: PipelineService,
    hub: NotifierHub,
    queue: QueueService,
    *,
    kind: TrackerKind | None = None,
    config: SyncConfig | None = None,
    dependencies: DependencySink | None = None,
) -> TrackerSync:
    """Build the sync of the configured tracker (or `kind`) and hook it in: write-back on
    the hub, the block in /queue and why a task waits on the tracker."""
    kind = kind or configured_tracker(settings)
    if kind is None:
        raise ValueError("no tracker is configured")
    conn = kind.connect(settings, clock)
    store, pauses = SqliteSyncStore(db), SqlitePauseStore(db)
    states = StatesCache(conn.client, clock, names=conn.state_names, ttl_s=conn.states_ttl_s)
    reconciler = Reconciler(
        tracker=conn.client, states=states, pipeline=pipeline, store=store,
        outbox=SqliteWriteBackStore(db), pauses=pauses, clock=clock,
        config=config or conn.config, dependencies=dependencies, meter=conn.meter,
        budget=conn.budget,
        # the budget outlives a restart: it is saved under the tracker's name
        keeper=BudgetKeeper(conn.budget, SqliteBudgetStore(db), kind.name, clock))
    hub.subscribe(reconciler.writeback)
    queue.add_source(reconciler)
    # last: a task whose item may be gone says so before any other reason
    queue.add_explainer(TrackerWaits(store, pauses, kind.name), watches=("tracker",))
    return TrackerSync(kind.name, conn, states, reconciler, SqliteDeliveryLog(db), clock)



def tell_the_chat(sync: TrackerSync, services: Services, renderer: TelegramRenderer,
                  ) -> list[BaseHandler[Update, Any, Any]]:
    """The sync in the group: missing marks on cards, one alert with a Confirm button
    when a project's items vanish at once; returns the button's handlers to install."""
    notifier = services.notifier
    sync.reconciler.tell(
        refresh_card=notifier.refresh,
        alert=lambda pause: notifier.say(
            pause_alert_text(pause, sync.name),
            markup=markup_json(confirm_markup(services.codec, pause))))
    renderer.add_card_note(sync.reconciler.card_note)
    return sync_buttons(services, sync.reconciler.confirm_pause)


def pause_alert_text(pause: Pause, tracker: str) -> str:
    """The one alert of a mass disappearance (the Confirm button goes with it)."""
    name = tracker.capitalize()
    return (f"⏸ {html.escape(pause.identifier)}: {pause.missing} of {pause.followed} followed "
            f"{name} items vanished at once. Its sync is paused and nothing was cancelled. "
            f"If they really were deleted, press Confirm: the tasks of those still gone are "
            f"cancelled. If orch lost access, fix the key first: nothing that answers is "
            f"touched.")

def pace_tracker(sync: TrackerSync, scheduler: Scheduler, interval_s: float, *,
                 on_tick: Callable[[TickReport], None] | None = None) -> list[Pacer]:
    """The sync's background work on the one scheduler: prompt work (webhook hints and
    write-backs) whenever there is some, and a reconcile tick every `interval_s` (none
    when 0: webhooks and full resyncs only). A tick never raises; its report is in
    /queue, and `on_tick` hears it (the metrics' tick durations)."""
    work = Pacer(scheduler, sync.reconciler.work_off, name=f"{sync.name}-work")
    sync.reconciler.wake = work.poke
    sync.pacers.append(work)
    if interval_s > 0:
        async def tick() -> None:
            report = await sync.reconciler.tick()
            if on_tick is not None:
                on_tick(report)

        sync.pacers.append(Pacer(scheduler, tick, name=JOB_NAME, interval_s=interval_s))
    for pacer in sync.pacers:
        pacer.start()
    return sync.pacers
