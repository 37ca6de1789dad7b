"""The Plane sync as the running process holds it: built from Settings, ticked by PTB's
JobQueue, its loop owned by the runtime's supervisor, its webhook route served by the
HTTP app. `orch run`, the demo and the end-to-end tests all build it here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.routing import BaseRoute
from telegram.ext import Application, CallbackContext, Job

from app.webhook_routes import plane_webhook_route
from core.clock import Clock
from core.config import Settings
from core.integrations.plane.client import PlaneClient
from core.integrations.plane.webhooks import DeliveryDedup
from core.pipeline.service import PipelineService
from core.ports import DependencySink, NotifierHub
from core.queue_view import QueueService
from core.ratebudget import RateBudget
from core.sync.config import SyncConfig
from core.sync.reconciler import Reconciler
from core.sync.states_cache import StatesCache
from storage.database import Database
from storage.tracker_items import SqliteSyncStore

JOB_NAME = "plane-reconcile"


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
) -> PlaneSync:
    """Build the sync and hook it in: write-back on the hub, the block in /queue."""
    budget = RateBudget(clock, settings.plane_rate_limit_per_min)  # one per API key
    client = PlaneClient.from_settings(settings, clock, budget)
    states = StatesCache(client, clock, names=settings.plane_state_names,
                         ttl_s=settings.plane_states_ttl_s)
    reconciler = Reconciler(
        tracker=client, states=states, pipeline=pipeline, store=SqliteSyncStore(db),
        clock=clock, config=config or SyncConfig.from_settings(settings),
        dependencies=dependencies, meter=client.stats, budget=budget)
    hub.subscribe(reconciler.writeback)
    queue.add_source(reconciler)
    return PlaneSync(client, budget, states, reconciler, DeliveryDedup(),
                     settings.plane_webhook_secret)


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
