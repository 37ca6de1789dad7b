"""A reconciler over fakes: a FakeTracker, in-memory stores, a recording notifier.

`World.reconciler()` builds a new Reconciler over the same stores, which is what a
restart looks like. Time is a ManualClock; `tick()` moves it by the reconcile interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from core.clock import ManualClock
from core.config import DEFAULT_STATE_NAMES
from core.pipeline.attention import wants_push
from core.pipeline.service import PipelineService
from core.pipeline.stages import DEFAULT_PIPELINE
from core.pipeline.tasks import Task, TaskEvent
from core.ports import Notifier, NotifierHub
from core.sync.config import SyncConfig
from core.sync.reconciler import Reconciler
from core.sync.report import TickReport
from core.sync.states_cache import StatesCache
from tests.fakes import FakeTracker, InMemoryTaskStore, RecordingNotifier
from tests.tracker_fakes import (
    InMemoryPauseStore,
    InMemoryWriteBackStore,
    RecordingItemDependencies,
    SafeSyncStore,
)

INTERVAL_S = 120.0


class Relay:
    """A hub subscriber whose target can be swapped: a restarted reconciler's write-back
    takes the place of the old one."""

    def __init__(self) -> None:
        self.target: Notifier | None = None

    def publish(self, event: TaskEvent, task: Task) -> None:
        if self.target is not None:
            self.target.publish(event, task)


@dataclass
class World:
    clock: ManualClock = field(default_factory=ManualClock)
    tracker: FakeTracker = field(default_factory=FakeTracker)
    store: SafeSyncStore = field(default_factory=SafeSyncStore)
    outbox: InMemoryWriteBackStore = field(default_factory=InMemoryWriteBackStore)
    pauses: InMemoryPauseStore = field(default_factory=InMemoryPauseStore)
    tasks: InMemoryTaskStore = field(default_factory=InMemoryTaskStore)
    notifier: RecordingNotifier = field(default_factory=RecordingNotifier)
    deps: RecordingItemDependencies = field(default_factory=RecordingItemDependencies)
    names: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_STATE_NAMES))
    config: SyncConfig = field(default_factory=SyncConfig)
    relay: Relay = field(default_factory=Relay)

    def __post_init__(self) -> None:
        hub = NotifierHub()
        hub.subscribe(self.notifier)
        hub.subscribe(self.relay)
        self.pipeline = PipelineService(self.tasks, DEFAULT_PIPELINE, self.clock, hub)
        self.current = self.reconciler()

    def reconciler(self) -> Reconciler:
        """A new reconciler over the same stores (a restart), now the current one."""
        states = StatesCache(self.tracker, self.clock, names=self.names)
        reconciler = Reconciler(
            tracker=self.tracker, states=states, pipeline=self.pipeline, store=self.store,
            outbox=self.outbox, pauses=self.pauses, clock=self.clock, config=self.config,
            dependencies=self.deps,
            meter=self.tracker.stats)
        self.relay.target = reconciler.writeback
        self.current = reconciler
        return reconciler

    async def tick(self, times: int = 1) -> TickReport:
        """`times` scheduled ticks, the reconcile interval apart; the last one's report."""
        report = None
        for _ in range(times):
            self.clock.advance(INTERVAL_S)
            report = await self.current.tick()
        assert report is not None
        return report

    async def task(self, key: str) -> Task:
        task = await self.tasks.find(key=key)
        assert task is not None, f"no task {key}"
        return task

    def pushes(self) -> list[str]:
        """Every event the notifier would push, as 'KEY kind'."""
        return [f"{e.key} {e.kind}" for e, _ in self.notifier.published if wants_push(e)]

    def events(self) -> list[str]:
        return [f"{e.key} {e.kind}" for e, _ in self.notifier.published]
