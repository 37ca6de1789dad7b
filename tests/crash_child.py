"""A child process for crash tests: one reconcile tick of orch against a Plane URL on
the given database, real time. The test kills it (SIGKILL) partway through.

    python -m tests.crash_child PLANE_URL DB_PATH
"""

from __future__ import annotations

import asyncio
import sys

from core.clock import SystemClock
from core.config import DEFAULT_STATE_NAMES
from core.deps.service import DependencyService
from core.integrations.plane.client import PlaneClient
from core.pipeline.service import PipelineService
from core.pipeline.stages import DEFAULT_PIPELINE
from core.ports import NotifierHub
from core.ratebudget import RateBudget
from core.sync.config import SyncConfig
from core.sync.reconciler import Reconciler
from core.sync.states_cache import StatesCache
from storage.database import Database
from storage.dependencies import SqliteDependencyStore
from storage.tasks import SqliteTaskStore
from storage.tracker_items import SqliteSyncStore
from storage.tracker_pauses import SqlitePauseStore
from storage.tracker_writebacks import SqliteWriteBackStore
from tests.plane_support import KEY


async def main(url: str, db_path: str) -> None:
    clock = SystemClock()
    db = await Database.open(db_path)
    hub = NotifierHub()
    pipeline = PipelineService(SqliteTaskStore(db), DEFAULT_PIPELINE, clock, hub)
    client = PlaneClient(url, KEY, "acme", clock=clock, budget=RateBudget(clock, 600))
    reconciler = Reconciler(
        tracker=client, states=StatesCache(client, clock, names=dict(DEFAULT_STATE_NAMES)),
        pipeline=pipeline, store=SqliteSyncStore(db), outbox=SqliteWriteBackStore(db),
        pauses=SqlitePauseStore(db), clock=clock, config=SyncConfig(),
        dependencies=DependencyService(SqliteDependencyStore(db), pipeline, clock))
    hub.subscribe(reconciler.writeback)
    print("ticking", flush=True)
    await reconciler.tick()
    print("ticked", flush=True)  # never reached: the test kills us first
    await client.aclose()
    await db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
