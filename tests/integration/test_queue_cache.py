"""/queue from the summary cache over real SQLite: the triggers move the revisions, the
cache answers miss / hit / stale, and /api/queue says which over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta

import httpx
import pytest

from app.http_api import build_http_app
from app.http_server import serve_http
from app.queue_summary import build_queue
from core.clock import ManualClock, utc_iso
from core.config import Settings
from core.deps.service import DependencyService
from core.jobs.engine import StageEngine
from core.jobs.model import ClaimLimits
from core.lessons.journal import LessonDraft, LessonJournal, Source
from core.pipeline.service import PipelineService
from core.pipeline.tasks import Task
from core.ports import NotifierHub
from core.queue_view import QueueService, QueueView
from storage.database import Database
from storage.dependencies import SqliteDependencyStore
from storage.jobs import SqliteJobStore
from storage.lessons import SqliteLessonStore
from storage.revisions import SqliteRevisions
from storage.tasks import SqliteTaskStore
from tests.pipeline_world import LEAD, OWNER, settings_for

TOKEN = "queue-cache-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Rig:
    db: Database
    clock: ManualClock
    settings: Settings
    pipeline: PipelineService
    jobs: SqliteJobStore
    engine: StageEngine
    deps: DependencyService
    journal: LessonJournal
    queue: QueueService

    async def approved(self, title: str) -> Task:
        task = await self.pipeline.create("api", title, LEAD)
        task = await self.pipeline.approve(task.id, LEAD)
        await self.engine.drain()
        return task

    async def start_next_job(self) -> None:
        assert await self.jobs.claim(OWNER, self.clock.now(), ClaimLimits(10)) is not None

    def builds(self) -> dict[str, int]:
        return dict(self.queue.cache.builds)


@pytest.fixture
async def rig(database: Database, clock: ManualClock) -> AsyncIterator[Rig]:
    settings = replace(settings_for(), approvers=frozenset({501, 502}))
    hub = NotifierHub()
    pipeline = PipelineService(SqliteTaskStore(database), settings.pipeline, clock, hub)
    jobs = SqliteJobStore(database)
    engine = StageEngine(pipeline, jobs, settings, clock)
    hub.subscribe(engine)
    deps = DependencyService(SqliteDependencyStore(database), pipeline, clock)
    journal = LessonJournal(SqliteLessonStore(database), clock)
    queue = build_queue(settings, clock, database, pipeline, journal, deps)
    yield Rig(database, clock, settings, pipeline, jobs, engine, deps, journal, queue)
    await queue.cache.aclose()


def shown(view: QueueView) -> dict[str, str | None]:
    return {e.key: e.why for line in view.stages for e in line.entries}


async def test_triggers_move_only_the_revision_of_what_was_written(rig: Rig) -> None:
    revisions = SqliteRevisions(rig.db)
    before = await revisions.read()
    await rig.journal.record(LessonDraft("gate_failure", Source.AUTO))
    after = await revisions.read()
    assert after["lessons"] == before["lessons"] + 1
    assert {k: v for k, v in after.items() if k != "lessons"} == {
        k: v for k, v in before.items() if k != "lessons"}


async def test_hits_while_nothing_changes(rig: Rig) -> None:
    await rig.approved("A")
    statuses = [(await rig.queue.summary()).status for _ in range(5)]
    assert statuses == ["miss", "hit", "hit", "hit", "hit"]
    assert rig.builds()["pipeline"] == 1


async def test_a_task_change_is_stale_once_then_a_hit_with_the_new_data(rig: Rig) -> None:
    a = await rig.approved("A")
    first = await rig.queue.summary()
    rig.clock.advance(3)
    await rig.pipeline.block(a.id, LEAD, "waiting for the vendor")

    stale = await rig.queue.summary()
    assert stale.status == "stale" and stale.revision == first.revision
    assert stale.view.blocked_count == 0 and stale.stale_for is not None
    assert stale.stale_for.total_seconds() == 3
    await rig.queue.cache.wait_refreshed()
    fresh = await rig.queue.summary()

    assert fresh.status == "hit" and fresh.revision != first.revision
    assert fresh.view.blocked_count == 1
    assert shown(fresh.view)[a.key] == "waiting for the vendor"


async def test_only_the_sections_whose_revision_moved_are_rebuilt(rig: Rig) -> None:
    await rig.approved("A")
    await rig.queue.summary()
    built = rig.builds()

    await rig.journal.record(LessonDraft("gate_failure", Source.AUTO))
    assert (await rig.queue.summary()).status == "stale"
    await rig.queue.cache.wait_refreshed()

    moved = {name: n - built[name] for name, n in rig.builds().items() if n != built[name]}
    assert moved == {"lessons": 1}


async def test_running_jobs_refresh_without_rebuilding_the_rest(rig: Rig) -> None:
    await rig.approved("A")
    await rig.queue.summary()
    built = rig.builds()
    run = await rig.jobs.claim(OWNER, rig.clock.now(), ClaimLimits(10))
    assert run is not None
    await rig.queue.summary()  # the claim moved jobs: the counts refresh in background
    await rig.queue.cache.wait_refreshed()
    built = rig.builds()

    await rig.jobs.mark_running(run.run.id, rig.clock.now())  # a run-only write
    rig.clock.advance(120)
    answer = await rig.queue.summary()

    assert answer.status == "hit"
    jobs = next(b for b in answer.view.blocks if b.title == "jobs")
    assert jobs.lines[1].endswith("· 2m · attempt 1")
    assert {n: c - built[n] for n, c in rig.builds().items() if c != built[n]} == {
        "progress": 1}


async def test_every_waiting_task_has_one_reason(rig: Rig) -> None:
    rig.settings = replace(rig.settings, max_concurrency=1)
    first, second, later = [await rig.approved(n) for n in ("A", "B", "C")]
    await rig.deps.declare(later.key, first.key)
    waiting = await rig.pipeline.create("api", "D", LEAD)
    await rig.start_next_job()

    view = await rig.queue.snapshot()

    assert shown(view) == {
        first.key: None,  # running
        second.key: "#1 in line",
        later.key: f"waits for {first.key}",
        waiting.key: "needs approval (approvers: 501, 502)",
    }
    assert await rig.queue.why(await rig.pipeline.get(later.id)) == f"waits for {first.key}"
    # a card shows no place in line: it would be edited every time the line moves
    assert await rig.queue.why(await rig.pipeline.get(second.id)) == "in line"


async def test_a_backoff_says_until_when_and_ends_by_itself(rig: Rig) -> None:
    task = await rig.approved("A")
    job = await rig.jobs.open_job(task.id)
    assert job is not None
    retry = rig.clock.now() + timedelta(seconds=90)
    async with rig.db.transaction() as tx:  # as a transient failure leaves it
        await tx.execute("UPDATE jobs SET not_before = ?, transient_attempts = 1 WHERE id = ?",
                         (utc_iso(retry), job.id))
    answer = await rig.queue.summary()
    retry_at = retry.strftime("%H:%M")
    assert shown(answer.view)[task.key] == f"retry at {retry_at} (2/3)"

    rig.clock.advance(90)  # nothing was written, but the backoff is over
    assert (await rig.queue.summary()).status == "stale"
    await rig.queue.cache.wait_refreshed()
    assert shown((await rig.queue.summary()).view)[task.key] == "#1 in line"


# --- over HTTP ----------------------------------------------------------------------


@pytest.fixture
async def api(rig: Rig) -> AsyncIterator[httpx.AsyncClient]:
    app = build_http_app(lessons=rig.journal, queue=rig.queue, api_token=TOKEN)
    async with serve_http(app, 0, host="127.0.0.1") as url:
        async with httpx.AsyncClient(base_url=url, headers=AUTH) as client:
            yield client


async def test_api_queue_says_miss_hit_stale_and_its_revision(
        api: httpx.AsyncClient, rig: Rig) -> None:
    task = await rig.approved("A")
    first = await api.get("/api/queue")
    second = await api.get("/api/queue")
    await rig.pipeline.block(task.id, LEAD, "vendor")
    third = await api.get("/api/queue")
    await rig.queue.cache.wait_refreshed()
    fourth = await api.get("/api/queue")

    assert [r.headers["x-orch-cache"] for r in (first, second, third, fourth)] == [
        "miss", "hit", "stale", "hit"]
    assert first.headers["x-orch-revision"] == second.headers["x-orch-revision"]
    assert third.headers["x-orch-revision"] == first.headers["x-orch-revision"]
    assert fourth.headers["x-orch-revision"] != first.headers["x-orch-revision"]
    assert third.json()["blocked"] == 0 and fourth.json()["blocked"] == 1


@pytest.mark.parametrize("how", [{"params": {"refresh": "true"}},
                                 {"headers": {"Cache-Control": "no-cache"}}])
async def test_api_queue_can_be_forced_fresh(api: httpx.AsyncClient, rig: Rig,
                                             how: dict[str, dict[str, str]]) -> None:
    task = await rig.approved("A")
    await api.get("/api/queue")
    await rig.pipeline.block(task.id, LEAD, "vendor")

    forced = await api.get("/api/queue", **how)  # type: ignore[arg-type]

    assert forced.headers["x-orch-cache"] == "miss" and forced.json()["blocked"] == 1


async def test_fifty_concurrent_requests_during_a_rebuild_share_one(
        api: httpx.AsyncClient, rig: Rig) -> None:
    await rig.approved("A")
    answers = await asyncio.gather(*(api.get("/api/queue") for _ in range(50)))
    assert {a.status_code for a in answers} == {200}
    assert rig.builds()["pipeline"] == 1

    await rig.approved("B")
    answers = await asyncio.gather(*(api.get("/api/queue") for _ in range(50)))
    await rig.queue.cache.wait_refreshed()
    assert {a.headers["x-orch-cache"] for a in answers} <= {"hit", "stale"}
    assert rig.builds()["pipeline"] == 2
