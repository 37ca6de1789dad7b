"""The Plane sync as the running process holds it: built from Settings, ticked by PTB's
JobQueue, its loop owned by the runtime's supervisor, its webhook route served by the
HTTP app. `orch run`, the demo and the end-to-end tests all build it here."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute
from telegram.ext import Application, CallbackContext, Job

from app.webhook_routes import plane_webhook_route
from core.clock import Clock
from core.config import Settings
from core.integrations.plane.client import PlaneClient
from core.integrations.plane.http import RetryPolicy
from core.integrations.plane.webhooks import DeliveryDedup
from core.pipeline.service import PipelineService
from core.ports import NotifierHub
from core.queue_view import QueueService
from core.ratebudget import RateBudget
from core.sync.budget_keeper import BudgetKeeper
from core.sync.config import SyncConfig
from core.sync.reconciler import Reconciler
from core.sync.records import DependencySink
from core.sync.states_cache import StatesCache
from core.sync.vanish import Pause
from storage.database import Database
from storage.rate_budgets import SqliteBudgetStore
from storage.tracker_items import SqliteSyncStore
from storage.tracker_pauses import SqlitePauseStore
from storage.tracker_writebacks import SqliteWriteBackStore

JOB_NAME = "plane-reconcile"
PauseAlert = Callable[[Pause], None]


@dataclass
class PlaneSync:
    """Everything the Plane sync is made of, for the runtime to start, serve and stop."""

    client: PlaneClient
    budget: RateBudget
    states: StatesCache
    reconciler: Reconciler
    dedup: DeliveryDedup
    webhook_secret: str

    def routes(self) -> list[BaseRoute]:
        """The HTTP app's `extra_routes`: POST /hooks/plane."""
        return [plane_webhook_route(self.reconciler, self.webhook_secret, self.dedup)]

    async def aclose(self) -> None:
        await self.client.aclose()


def plane_configured(settings: Settings) -> bool:
    """True when orch has what it needs to talk to Plane."""
    return bool(settings.plane_api_url and settings.plane_api_token
                and settings.plane_workspace_slug)


def build_plane_sync(
    settings: Settings,
    clock: Clock,
    db: Database,
    pipeline: PipelineService,
    hub: NotifierHub,
    queue: QueueService,
    *,
    config: SyncConfig | None = None,
    dependencies: DependencySink | None = None,
    refresh_card: Callable[[int], None] = lambda _: None,
    alert: PauseAlert | None = None,
) -> PlaneSync:
    """Build the sync and hook it in: write-back on the hub, the block in /queue."""
    config = config or SyncConfig.from_settings(settings)
    # one budget per API key, a margin below Plane's limit, kept across restarts
    budget = RateBudget(clock, settings.plane_rate_limit_per_min, margin=config.rate_margin)
    client = PlaneClient(settings.plane_api_url, settings.plane_api_token,
                         settings.plane_workspace_slug, clock=clock, budget=budget,
                         policy=RetryPolicy(max_retry_after_s=config.max_retry_after_s))
    states = StatesCache(client, clock, names=settings.plane_state_names,
                         ttl_s=settings.plane_states_ttl_s)
    reconciler = Reconciler(
        tracker=client, states=states, pipeline=pipeline, store=SqliteSyncStore(db),
        outbox=SqliteWriteBackStore(db), pauses=SqlitePauseStore(db), clock=clock,
        config=config, dependencies=dependencies, meter=client.stats, budget=budget,
        keeper=BudgetKeeper(budget, SqliteBudgetStore(db), "plane", clock),
        refresh_card=refresh_card, alert=alert)
    hub.subscribe(reconciler.writeback)
    queue.add_source(reconciler)
    return PlaneSync(client, budget, states, reconciler, DeliveryDedup(),
                     settings.plane_webhook_secret)


def pause_alert_text(pause: Pause) -> str:
    """The one alert of a mass disappearance (the Confirm button goes with it)."""
    return (f"⏸ {html.escape(pause.identifier)}: {pause.missing} of {pause.followed} followed "
            f"Plane items vanished at once. Its sync is paused and nothing was cancelled. "
            f"If they really were deleted, press Confirm: their tasks are cancelled. If orch "
            f"lost access, fix the key and press Confirm: nothing that answers is touched.")


def schedule_reconcile(app: Application[Any, Any, Any, Any, Any, Any], sync: PlaneSync,
                       interval_s: float, *, first_s: float = 1.0) -> Job[Any]:
    """Tick every `interval_s` on PTB's JobQueue; a tick never overlaps the last one."""
    if app.job_queue is None:
        raise RuntimeError("PTB's JobQueue is missing: install python-telegram-bot[job-queue]")

    async def reconcile(_: CallbackContext[Any, Any, Any, Any]) -> None:
        await sync.reconciler.tick()  # never raises; its report is in the /queue block

    return app.job_queue.run_repeating(
        reconcile, interval=interval_s, first=first_s, name=JOB_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True})
