"""Why a task waits on the tracker, through the /queue summary cache over real SQLite:
a missing mark is the task's one reason, and writing the mark moves the 'tracker'
revision (0013), so the next cached request is stale, then fresh with the reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from app.queue_summary import build_queue
from core.clock import ManualClock
from core.deps.service import DependencyService
from core.lessons.journal import LessonJournal
from core.pipeline.service import PipelineService
from core.pipeline.tasks import Task
from core.ports import NotifierHub
from core.queue_view import QueueService, QueueView
from core.sync.records import ItemRecord
from core.sync.waits import TrackerWaits
from storage.database import Database
from storage.dependencies import SqliteDependencyStore
from storage.lessons import SqliteLessonStore
from storage.revisions import SqliteRevisions
from storage.tasks import SqliteTaskStore
from storage.tracker_items import SqliteSyncStore
from storage.tracker_pauses import SqlitePauseStore
from tests.pipeline_world import LEAD, settings_for

MISSING = "missing in Plane since 10:42 (not cancelled; confirmed after two full resyncs)"
PAUSED = "Plane sync paused for project ORCH: waiting for a person to confirm"


@pytest.fixture
async def queue(database: Database, clock: ManualClock) -> AsyncIterator[QueueService]:
    settings = settings_for()
    pipeline = PipelineService(SqliteTaskStore(database), settings.pipeline, clock,
                               NotifierHub())
    deps = DependencyService(SqliteDependencyStore(database), pipeline, clock)
    queue = build_queue(settings, clock, database, pipeline,
                        LessonJournal(SqliteLessonStore(database), clock), deps)
    # as app/tracker_sync.py wires it, under the adapter's name
    queue.add_explainer(TrackerWaits(SqliteSyncStore(database), SqlitePauseStore(database),
                                     "plane"), watches=("tracker",))
    yield queue
    await queue.cache.aclose()


async def followed(database: Database, clock: ManualClock, key: str) -> Task:
    pipeline = PipelineService(SqliteTaskStore(database), settings_for().pipeline, clock,
                               NotifierHub())
    task = await pipeline.create("api", f"task {key}", LEAD, key=key, tracker_id=f"i-{key}",
                                 source="plane")
    await SqliteSyncStore(database).save(ItemRecord(f"i-{key}", "p-orch", key), clock.now())
    return task


def whys(view: QueueView) -> dict[str, str | None]:
    return {e.key: e.why for line in view.stages for e in line.entries}


async def test_a_missing_item_is_its_tasks_one_reason_and_moves_the_revision(
        database: Database, clock: ManualClock, queue: QueueService) -> None:
    await followed(database, clock, "ORCH-1")
    await followed(database, clock, "ORCH-2")
    first = await queue.summary()
    approval = whys(first.view)["ORCH-1"]  # a queued task waits for a person first
    assert first.status == "miss" and approval and "approv" in approval
    assert whys(first.view) == {"ORCH-1": approval, "ORCH-2": approval}
    revisions = SqliteRevisions(database)
    before = await revisions.read()

    since = datetime(2026, 11, 27, 10, 42, tzinfo=UTC)
    await SqliteSyncStore(database).mark_missing("i-ORCH-1", since, None, clock.now())

    after = await revisions.read()
    assert after["tracker"] == before["tracker"] + 1
    assert {k: v for k, v in after.items() if k != "tracker"} == {
        k: v for k, v in before.items() if k != "tracker"}
    stale = await queue.summary()
    assert stale.status == "stale" and whys(stale.view)["ORCH-1"] == approval
    await queue.cache.wait_refreshed()
    fresh = await queue.summary()
    assert fresh.status == "hit" and fresh.revision != first.revision
    assert whys(fresh.view) == {"ORCH-1": MISSING, "ORCH-2": approval}  # one reason each
    assert whys(await queue.snapshot()) == whys(fresh.view)


async def test_a_save_that_keeps_the_mark_leaves_the_revision_alone(
        database: Database, clock: ManualClock) -> None:
    await followed(database, clock, "ORCH-1")
    store, revisions = SqliteSyncStore(database), SqliteRevisions(database)
    await store.mark_missing("i-ORCH-1", clock.now(), None, clock.now())
    before = (await revisions.read())["tracker"]
    record = await store.record("i-ORCH-1")
    assert record is not None
    await store.save(record, clock.now())  # a reconcile that changed nothing shown
    await store.mark_missing("i-ORCH-1", clock.now(), clock.now(), clock.now())
    assert (await revisions.read())["tracker"] == before
    assert await store.clear_missing("i-ORCH-1", clock.now())
    assert (await revisions.read())["tracker"] == before + 1


async def test_a_paused_project_says_so_over_the_missing_mark(
        database: Database, clock: ManualClock, queue: QueueService) -> None:
    one = await followed(database, clock, "ORCH-1")
    await SqliteSyncStore(database).mark_missing("i-ORCH-1", clock.now(), None, clock.now())
    pauses = SqlitePauseStore(database)
    await pauses.pause("p-orch", "ORCH", 4, 5, clock.now())

    assert whys(await queue.snapshot()) == {"ORCH-1": PAUSED}
    assert await queue.why(one) == PAUSED
