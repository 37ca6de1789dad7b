"""What operators watch: /metrics and /readyz, wired from the parts of a running orch."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.routing import BaseRoute

from app.health import OutboxWatch, Readiness, database_check, reconcile_check, telegram_check
from app.metrics import LiveSources, OrchMetrics
from app.tracker_sync import TrackerSync
from bot.notifier import TelegramNotifier
from bot.telemetry import TelegramCalls
from core.clock import Clock
from core.config import Settings
from core.queue_view import QueueService
from storage.database import Database
from storage.metrics import SqliteMetrics


@dataclass
class Operations:
    calls: TelegramCalls
    metrics: OrchMetrics
    readiness: Readiness

    def routes(self) -> list[BaseRoute]:
        return [self.metrics.route(), *self.readiness.routes()]


def build_operations(settings: Settings, clock: Clock, db: Database, calls: TelegramCalls,
                     notifier: TelegramNotifier, queue: QueueService,
                     tracker: TrackerSync | None) -> Operations:
    """Metrics and readiness checks over the given parts (`tracker` None: none set)."""
    live = LiveSources(
        calls=calls, outbox_depth=lambda: notifier.pending,
        pushes=lambda: {"push": notifier.stats.pushes, "digest": notifier.stats.digests},
        reconciler=lambda: tracker.reconciler.stats if tracker else None,
        tracker=lambda: tracker.connection.meter if tracker else None, caches=[queue.cache])
    readiness = Readiness()
    readiness.add("database", database_check(db))
    readiness.add("telegram", telegram_check(calls, clock, settings.ready_telegram_grace_s))
    if tracker is not None and settings.reconcile_interval_s > 0:
        readiness.add("reconcile", reconcile_check(
            lambda: tracker.reconciler.stats, clock, settings.reconcile_interval_s, clock.now()))
    outbox = OutboxWatch(clock, lambda: notifier.pending,
                         lambda: notifier.stats.messages_sent + notifier.stats.edits,
                         settings.ready_outbox_stuck_s)
    readiness.add("outbox", outbox.probe)
    return Operations(calls, OrchMetrics(SqliteMetrics(db), live), readiness)
