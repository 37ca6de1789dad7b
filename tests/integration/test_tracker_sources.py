"""A tracker is a configured source: the schema and the sync take its name from its adapter.

Migration 0005 replaced `CHECK (source IN ('local', 'plane'))` on dependency edges with a
check of the name's form; these tests upgrade a 0004 database with edges in it, and run
the sync with a tracker that is not called "plane".
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.config import DEFAULT_STATE_NAMES
from core.deps.service import DependencyService
from core.pipeline.service import PipelineService
from core.pipeline.stages import DEFAULT_PIPELINE
from core.pipeline.tasks import SYSTEM
from core.ports import NotifierHub
from core.sync.config import SyncConfig
from core.sync.reconciler import Reconciler
from core.sync.states_cache import StatesCache
from storage.database import Database, IntegrityViolation
from storage.dependencies import SqliteDependencyStore
from storage.tasks import SqliteTaskStore
from storage.tracker_items import SqliteSyncStore
from storage.tracker_pauses import SqlitePauseStore
from storage.tracker_writebacks import SqliteWriteBackStore
from tests.fakes import FakeTracker

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


async def edges(db: Database) -> list[tuple[int, int, str]]:
    rows = await db.fetch_all("SELECT task_id, depends_on, source FROM task_deps ORDER BY 1, 2")
    return [(r[0], r[1], r[2]) for r in rows]


async def test_the_upgrade_keeps_every_edge_and_its_source(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "old.db", migrate=False)
    try:
        assert await db.migrate(upto=4) == 4
        pipeline = PipelineService(SqliteTaskStore(db), DEFAULT_PIPELINE, ManualClock(T0),
                                   NotifierHub())
        a, b, c = [await pipeline.create("app", t, SYSTEM) for t in "ABC"]
        store = SqliteDependencyStore(db)
        await store.add(b.id, a.id, "local", T0)
        await store.add(c.id, a.id, "plane", T0)
        before = await edges(db)

        assert await db.migrate() >= 1

        assert await edges(db) == before == [(b.id, a.id, "local"), (c.id, a.id, "plane")]
        assert await store.add(c.id, b.id, "github", T0)
        indexes = {r[0] for r in await db.fetch_all(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'task_deps'")}
        assert {"task_deps_reverse", "task_deps_unsatisfied"} <= indexes
    finally:
        await db.close()


async def test_the_schema_names_no_tracker(database: Database) -> None:
    schema = " ".join(r[0] for r in await database.fetch_all(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL"))
    assert "task_deps" in schema and "plane" not in schema.lower()


@pytest.mark.parametrize("source", ["", "Plane", "jira cloud", "x" * 33, "plane;drop"])
async def test_a_source_must_be_a_short_lowercase_name(database: Database, source: str) -> None:
    pipeline = PipelineService(SqliteTaskStore(database), DEFAULT_PIPELINE, ManualClock(T0),
                               NotifierHub())
    a, b = [await pipeline.create("app", t, SYSTEM) for t in "AB"]

    with pytest.raises(IntegrityViolation, match="CHECK"):
        await SqliteDependencyStore(database).add(b.id, a.id, source, T0)
    assert await edges(database) == []


async def test_a_tracker_not_called_plane_syncs_end_to_end(database: Database) -> None:
    clock = ManualClock(T0)
    hub = NotifierHub()
    pipeline = PipelineService(SqliteTaskStore(database), DEFAULT_PIPELINE, clock, hub)
    deps = DependencyService(SqliteDependencyStore(database), pipeline, clock)
    tracker = FakeTracker("JIRA", name="jira")
    config = SyncConfig(projects=("JIRA",), repos={"JIRA": "app"})
    states = StatesCache(tracker, clock, names=DEFAULT_STATE_NAMES)
    reconciler = Reconciler(
        tracker=tracker, states=states, pipeline=pipeline, store=SqliteSyncStore(database),
        outbox=SqliteWriteBackStore(database), pauses=SqlitePauseStore(database),
        clock=clock, config=config, dependencies=deps)
    hub.subscribe(reconciler.writeback)
    first = tracker.add("First", "Approved")
    second = tracker.add("Second", "Approved")
    tracker.blockers[second.id] = (first.id,)

    await reconciler.tick()
    task = await pipeline.find(second.key)
    await pipeline.block(task.id, SYSTEM, "waiting for a person")
    await reconciler.tick()
    # Second was listed before First had a task, so it waited on First as an item; the
    # full resync reads relations again and finds First's task
    await reconciler.resync()

    assert (task.source, [e.actor for e in await pipeline.history(task.id)][:2]) == (
        "jira", ["jira", "jira"])
    assert [s for _, _, s in await edges(database)] == ["jira"]
    assert tracker.writes[-1] == (second.id, "s-blocked")  # write-back follows the name
