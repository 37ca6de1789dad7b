"""GET /metrics in Prometheus' text format (prometheus_client).

Two kinds of figures. What SQLite holds (tasks by stage, jobs by status, run durations
and outcomes by role, claim latency, news by kind, merges and merge leases, lessons by
type and status) is read at each scrape, so it survives restarts and needs no hook in
the code that writes it.
What only the running process knows (Telegram calls, the notifier's sends and queue,
the tracker's calls and 429s, the summary cache's answers, reconcile tick durations) is
read from the objects that count it. No label ever carries a key, title or secret.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.telemetry import TelegramCalls
from core.ports import TrackerMeter
from core.summary.cache import SectionCache
from core.sync.report import ReconcilerStats, TickReport
from storage.metrics import Histogram as Buckets
from storage.metrics import SqliteMetrics, StoredFigures

TICK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass
class LiveSources:
    """The running objects that count things; any may be missing (e.g. no Plane)."""

    calls: TelegramCalls | None = None
    pushes: Callable[[], dict[str, int]] | None = None  # by kind: push, digest
    outbox_depth: Callable[[], int] | None = None
    reconciler: Callable[[], ReconcilerStats | None] = lambda: None
    tracker: Callable[[], TrackerMeter | None] = lambda: None
    caches: list[SectionCache] = field(default_factory=list)


class OrchMetrics:
    """Builds the /metrics page; `observe_tick` is the reconcile tick's hook."""

    def __init__(self, stored: SqliteMetrics, live: LiveSources) -> None:
        self._stored = stored
        self.live = live
        self._registry = CollectorRegistry(auto_describe=True)
        self._ticks = Histogram("orch_reconcile_tick_seconds", "Reconcile tick duration.",
                                ["kind"], buckets=TICK_BUCKETS, registry=self._registry)
        self._snapshot = _Snapshot()
        self._registry.register(self._snapshot)

    def observe_tick(self, report: TickReport) -> None:
        self._ticks.labels("full" if report.full else "incremental").observe(report.duration_s)

    async def page(self) -> bytes:
        figures = await self._stored.figures()
        self._snapshot.families = [*_stored_families(figures), *_live_families(self.live)]
        return generate_latest(self._registry)

    def route(self) -> Route:
        async def metrics(request: Request) -> Response:
            return Response(await self.page(), media_type=CONTENT_TYPE_LATEST)

        return Route("/metrics", metrics, methods=["GET"])


class _Snapshot:
    """A collector that yields the families gathered just before the page is made."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        yield from self.families

    def describe(self) -> Iterable[Metric]:
        return ()


def _stored_families(f: StoredFigures) -> Iterator[Metric]:
    yield _gauge("orch_tasks", "Tasks by stage.", "stage", f.tasks_by_stage)
    yield _gauge("orch_jobs", "Jobs by status.", "status", f.jobs_by_status)
    yield _counter("orch_task_events", "Task changes by kind (pushes are made of them).",
                   "kind", f.events_by_kind)
    yield _gauge("orch_merges", "Merges by state (open, merging, merged, held).", "state",
                 f.merges_by_state)
    yield _gauge("orch_merge_leases", "Merge leases by state: held now, or released.",
                 "state", f.leases)
    lessons = GaugeMetricFamily("orch_lessons", "Lessons by type and status.",
                                labels=["type", "status"])
    for (kind, status), n in sorted(f.lessons.items()):
        lessons.add_metric([kind, status], n)
    yield lessons
    yield _histogram("orch_run_duration_seconds", "Finished agent runs by role and outcome.",
                     ["role", "outcome"], f.run_durations)
    yield _histogram("orch_claim_latency_seconds",
                     "From a job enqueued to its first claim, by role.", ["role"],
                     f.claim_latency)


def _live_families(live: LiveSources) -> Iterator[Metric]:
    if live.calls is not None:
        yield from _telegram(live.calls)
    if live.pushes is not None:
        yield _counter("orch_pushes", "Pushes sent by kind.", "kind", live.pushes())
    if live.outbox_depth is not None:
        yield GaugeMetricFamily("orch_outbox_depth", "Messages waiting to be sent.",
                                value=live.outbox_depth())
    yield from _tracker(live.reconciler(), live.tracker())
    answers: dict[str, int] = {"miss": 0, "hit": 0, "stale": 0}
    for cache in live.caches:
        for status, n in cache.answers.items():
            answers[status] = answers.get(status, 0) + n
    yield _counter("orch_summary_cache_answers", "Summary cache answers by status.",
                   "status", answers)


def _telegram(calls: TelegramCalls) -> Iterator[Metric]:
    family = CounterMetricFamily("orch_telegram_calls", "Bot API calls by method and outcome.",
                                 labels=["method", "outcome"])
    for (method, outcome), n in sorted(calls.calls.items()):
        family.add_metric([method, outcome], n)
    yield family
    yield _counter("orch_telegram_sends", "Messages sent and edited.", "kind", {
        "send": calls.total("sendMessage", "ok"), "edit": calls.total("editMessageText", "ok")})
    yield CounterMetricFamily("orch_telegram_rate_limited", "Bot API answers 429.",
                              value=calls.total(outcome="429"))


def _tracker(stats: ReconcilerStats | None, meter: TrackerMeter | None) -> Iterator[Metric]:
    if stats is not None:
        yield CounterMetricFamily("orch_reconcile_ticks", "Reconcile ticks.", value=stats.ticks)
        yield CounterMetricFamily("orch_reconcile_errors", "Items or projects that failed.",
                                  value=stats.errors_total)
    if meter is not None:
        yield CounterMetricFamily("orch_tracker_calls", "Tracker HTTP attempts.",
                                  value=meter.calls)
        yield CounterMetricFamily("orch_tracker_rate_limited", "Tracker answers 429.",
                                  value=meter.rate_limit_waits)


def _gauge(name: str, doc: str, label: str, values: dict[str, int]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for key, n in sorted(values.items()):
        family.add_metric([key], n)
    return family


def _counter(name: str, doc: str, label: str, values: dict[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=[label])
    for key, n in sorted(values.items()):
        family.add_metric([key], n)
    return family


def _histogram(name: str, doc: str, labels: list[str], data: Buckets) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=labels)
    for values, (counts, total) in sorted(data.series.items()):
        running, buckets = 0, []
        for bound, n in zip((*map(str, data.bounds), "+Inf"), counts, strict=True):
            running += n
            buckets.append((bound, running))
        family.add_metric(list(values), buckets, total)
    return family
