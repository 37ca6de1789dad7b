"""What operators watch: /metrics and /readyz, wired from the parts of a running orch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.routing import BaseRoute

from app.health import OutboxWatch, Readiness, database_check, reconcile_check, telegram_check
from app.metrics import LiveSources, OrchMetrics
from app.tracker_sync import TrackerSync
from bot.telemetry import TelegramCalls
from core.chat.courier import Courier
from core.clock import Clock
from core.config import Settings
from core.queue_view import QueueService
from storage.database import Database
from storage.metrics import SqliteMetrics


@dataclass(frozen=True)
class OutboxFigures:
    """How the sender of the group's messages is doing, read at each look."""

    depth: Callable[[], int]  # messages (cards, pushes) waiting to be sent
    delivered: Callable[[], int]  # messages sent or edited since start
    pushes: Callable[[], dict[str, int]]  # pushes sent, by kind


def notifier_figures(notifier: Courier) -> OutboxFigures:
    """The courier's figures (its stats are reloaded from SQLite at start: read each time)."""
    return OutboxFigures(
        lambda: notifier.pending,
        lambda: notifier.stats.sent + notifier.stats.pushes + notifier.stats.edits,
        lambda: {"push": notifier.stats.pushes, "digest": notifier.stats.digests})


@dataclass
class Operations:
    calls: TelegramCalls
    metrics: OrchMetrics
    readiness: Readiness

    def routes(self) -> list[BaseRoute]:
        return [self.metrics.route(), *self.readiness.routes()]


def build_operations(settings: Settings, clock: Clock, db: Database, calls: TelegramCalls,
                     outbox: OutboxFigures, queue: QueueService,
                     tracker: TrackerSync | None) -> Operations:
    """Metrics and readiness checks over the given parts (`tracker` None: none set)."""
    live = LiveSources(
        calls=calls, outbox_depth=outbox.depth, pushes=outbox.pushes,
        reconciler=lambda: tracker.reconciler.stats if tracker else None,
        tracker=lambda: tracker.connection.meter if tracker else None, caches=[queue.cache])
    readiness = Readiness()
    readiness.add("database", database_check(db))
    readiness.add("telegram", telegram_check(calls, clock, settings.ready_telegram_grace_s))
    if tracker is not None and settings.reconcile_interval_s > 0:
        readiness.add("reconcile", reconcile_check(
            lambda: tracker.reconciler.stats, clock, settings.reconcile_interval_s, clock.now()))
    watch = OutboxWatch(clock, outbox.depth, outbox.delivered, settings.ready_outbox_stuck_s)
    readiness.add("outbox", watch.probe)
    return Operations(calls, OrchMetrics(SqliteMetrics(db), live), readiness)
