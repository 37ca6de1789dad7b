"""A reconciler rig over HTTP: the Plane emulator served on 127.0.0.1 with the team's
states, SQLite underneath, a recording notifier. Shared by the integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from core.config import DEFAULT_STATE_NAMES
from core.integrations.plane.client import PlaneClient
from core.pipeline.attention import wants_push
from core.pipeline.service import PipelineService
from core.pipeline.stages import DEFAULT_PIPELINE
from core.ports import BudgetStore, DependencySink, NotifierHub
from core.ratebudget import RateBudget
from core.sync.budget_keeper import BudgetKeeper
from core.sync.config import SyncConfig
from core.sync.reconciler import Reconciler
from core.sync.states_cache import StatesCache
from sandbox.plane import PlaneEmulator, serve_emulator
from sandbox.plane_team import seed_team_project
from storage.database import Database
from storage.tasks import SqliteTaskStore
from storage.tracker_items import SqliteSyncStore
from storage.tracker_pauses import SqlitePauseStore
from storage.tracker_writebacks import SqliteWriteBackStore
from tests.fakes import RecordingNotifier
from tests.plane_support import KEY, JumpClock
from tests.reconcile_world import Relay


@dataclass
class Rig:
    emulator: PlaneEmulator
    url: str
    clock: JumpClock
    db: Database
    pipeline: PipelineService
    notifier: RecordingNotifier
    relay: Relay
    clients: list[PlaneClient]
    hub: NotifierHub | None = None  # for more subscribers (e.g. the job loop's run watch)

    def reconciler(self, *, budget: int = 600, config: SyncConfig | None = None,
                   names: dict[str, str] | None = None,
                   dependencies: DependencySink | None = None, margin: float = 0.0,
                   keeper: BudgetStore | None = None) -> Reconciler:
        """A reconciler as the runtime builds one; a second call is a restart."""
        meter = RateBudget(self.clock, budget, margin=margin)
        client = PlaneClient(self.url, KEY, "acme", clock=self.clock, budget=meter)
        self.clients.append(client)
        states = StatesCache(client, self.clock, names=names or dict(DEFAULT_STATE_NAMES))
        reconciler = Reconciler(
            tracker=client, states=states, pipeline=self.pipeline,
            store=SqliteSyncStore(self.db), outbox=SqliteWriteBackStore(self.db),
            pauses=SqlitePauseStore(self.db), clock=self.clock, config=config or SyncConfig(),
            meter=client.stats, budget=meter, dependencies=dependencies,
            keeper=BudgetKeeper(meter, keeper, "plane", self.clock) if keeper else None)
        self.relay.target = reconciler.writeback
        return reconciler

    def pushes(self) -> list[str]:
        return [f"{e.key} {e.kind}" for e, _ in self.notifier.published if wants_push(e)]

    def state_of(self, key: str) -> str:
        return self.emulator.states[self.emulator.item(key).state_id].name

    def comments_on(self, key: str) -> list[str]:
        item = self.emulator.item(key)
        return [c.external_id or "" for c in self.emulator.comments.values()
                if c.item_id == item.id]


@asynccontextmanager
async def plane_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    """The emulator served with the team's project, a migrated database, a pipeline."""
    clock = JumpClock()
    emulator = PlaneEmulator(clock, KEY, "acme", rate_limit_per_min=600)
    seed_team_project(emulator, "ORCH")
    db = await Database.open(tmp_path / "orch.db")
    notifier, relay, hub = RecordingNotifier(), Relay(), NotifierHub()
    hub.subscribe(notifier)
    hub.subscribe(relay)
    pipeline = PipelineService(SqliteTaskStore(db), DEFAULT_PIPELINE, clock, hub)
    async with serve_emulator(emulator) as url:
        made = Rig(emulator, url, clock, db, pipeline, notifier, relay, [], hub)
        yield made
        for client in made.clients:
            await client.aclose()
    await db.close()
