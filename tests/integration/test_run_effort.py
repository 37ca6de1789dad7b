"""What runs cost, from the result JSON to the card, /queue and /api/runs (real SQLite,
real HTTP on 127.0.0.1), and the runs table rebuilt by migration 0010 keeping its rows."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import httpx

from app.http_api import build_http_app
from app.http_server import serve_http
from core.clock import ManualClock
from core.config import AgentCommand, Settings
from core.jobs.agents import AgentResult, RunOutcome
from core.jobs.budget import Budget, TaskBudget
from core.jobs.effort import EffortTotals, EffortView
from core.jobs.engine import StageEngine
from core.jobs.model import ClaimLimits, Effort, JobDraft, JobStatus, JobUpdate, RunEnd
from core.lessons.journal import LessonJournal
from core.pipeline.service import PipelineService
from core.pipeline.stages import DEFAULT_PIPELINE
from core.pipeline.tasks import SYSTEM, ChangeKind
from core.queue_view import QueueService
from storage.database import Database
from storage.jobs import SqliteJobStore
from storage.lessons import SqliteLessonStore
from storage.runs import SqliteRunLedger
from storage.tasks import SqliteTaskStore
from tests.fakes import RecordingNotifier

TOKEN = "effort-token"


def test_totals_are_spelled_as_a_card_shows_them() -> None:
    assert EffortTotals(3, 41 * 60, 0, 1_200_000, 3.1).spelled() == (
        "3 runs · 41 min · 1.2M tokens · $3.10")
    assert EffortTotals(1, 20).spelled() == "1 run · <1 min"  # nothing reported: no tokens


def test_reported_effort_keeps_only_sane_values() -> None:
    good = Effort.reported({"tokens_in": 10, "tokens_out": 5, "cost": 0.25, "model": "m"}, 1.5)
    bad = Effort.reported({"tokens_in": -1, "tokens_out": True, "cost": "free", "model": 3})

    assert good == Effort(1.5, 10, 5, 0.25, "m")
    assert bad == Effort()


async def run_once(db: Database, clock: ManualClock, service: PipelineService, title: str,
                   effort: Effort, wall_s: float) -> int:
    jobs = SqliteJobStore(db)
    task = await service.create("api", title, SYSTEM)
    await jobs.enqueue(JobDraft(task.id, "queued", "developer", "api", task.version,
                                clock.now()), clock.now())
    claim = await jobs.claim("me", clock.now(), ClaimLimits(10))
    assert claim is not None
    end = RunEnd(True, 0, wall_s, effort=effort)
    assert await jobs.finish(claim.run.id, claim.job.id, end, JobUpdate(JobStatus.SUCCEEDED),
                             clock.now())
    return task.id


async def test_effort_reaches_the_card_the_queue_and_the_api(
        database: Database, clock: ManualClock) -> None:
    service = PipelineService(SqliteTaskStore(database), DEFAULT_PIPELINE, clock,
                              RecordingNotifier())
    view = EffortView(SqliteRunLedger(database), clock)
    task_id = await run_once(database, clock, service, "A", Effort(2.0, 1_000_000, 200_000,
                                                                   3.1, "m1"), 41 * 60)
    clock.advance(60)
    await run_once(database, clock, service, "B", Effort(None, 100, 0, None, None), 30)

    note = await view.card_note(await service.get(task_id))
    block = await view.queue_block()
    queue = QueueService(service, DEFAULT_PIPELINE, clock)
    queue.add_source(view)
    journal = LessonJournal(SqliteLessonStore(database), clock)
    app = build_http_app(lessons=journal, queue=queue, api_token=TOKEN, runs=view)
    async with serve_http(app, 0, host="127.0.0.1") as url:
        async with httpx.AsyncClient(base_url=url) as client:
            denied = await client.get("/api/runs")
            got = await client.get("/api/runs?limit=1",
                                   headers={"Authorization": f"Bearer {TOKEN}"})

    assert note == "🧾 1 run · 41 min · 1.2M tokens · $3.10"
    assert block is not None and block.lines[0] == "today 2 runs · 42 min · 1.2M tokens · $3.10"
    assert denied.status_code == 401
    body = got.json()
    assert body["today"]["runs"] == 2 and body["today"]["tokens"] == 1_200_100
    assert [(r["task"], r["tokens_in"], r["cost"]) for r in body["runs"]] == [("ORCH-2", 100, None)]


async def test_yesterdays_runs_are_not_today(database: Database) -> None:
    clock = ManualClock(datetime(2026, 11, 21, 23, 59, tzinfo=UTC))
    service = PipelineService(SqliteTaskStore(database), DEFAULT_PIPELINE, clock,
                              RecordingNotifier())
    await run_once(database, clock, service, "late", Effort(cost=1.0), 10)
    clock.advance(120)

    today = await SqliteRunLedger(database).totals_since(EffortView(
        SqliteRunLedger(database), clock).day_start())

    assert today == EffortTotals(0, 0, 0, 0, None)


async def test_migration_0010_keeps_existing_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = await Database.open(path, migrate=False)
    await old.migrate(upto=9)  # a file from before the runs table was rebuilt
    await old.close()
    conn = sqlite3.connect(path)
    at = datetime(2026, 11, 21, tzinfo=UTC).isoformat()
    conn.execute("INSERT INTO tasks (id, key, repo, title, stage, created_at, updated_at, "
                 "stage_entered_at) VALUES (1, 'A-1', 'api', 't', 'development', ?, ?, ?)",
                 (at, at, at))
    conn.execute("INSERT INTO jobs (id, task_id, stage, role, repo, status, not_before, "
                 "task_version, enqueued_at, updated_at, failure) VALUES "
                 "(1, 1, 'development', 'tester', 'api', 'failed', ?, 1, ?, ?, 'permanent')",
                 (at, at, at))
    conn.execute("INSERT INTO runs (job_id, task_id, stage, attempt, status, owner, "
                 "started_at, updated_at, completed_at, error, process_group) VALUES "
                 "(1, 1, 'development', 1, 'failed', 'o', ?, ?, ?, 'boom', 4242)", (at, at, at))
    conn.commit()
    conn.close()

    db = await Database.open(path)
    try:
        row = await db.fetch_one("SELECT role, status, error, process_group FROM runs")
        triggers = await db.fetch_all("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                      " AND tbl_name = 'runs'")
    finally:
        await db.close()

    assert row is not None and tuple(row) == ("tester", "failed", "boom", 4242)
    assert {t[0] for t in triggers} == {"runs_terminal_is_final", "runs_terminal_is_kept",
                                        "revisions_runs_insert", "revisions_runs_update"}


async def test_a_task_over_its_budget_is_blocked_once(
        database: Database, clock: ManualClock, tmp_path: Path) -> None:
    notifier = RecordingNotifier()
    service = PipelineService(SqliteTaskStore(database), DEFAULT_PIPELINE, clock, notifier)
    jobs = SqliteJobStore(database)
    settings = Settings(agents={"developer": AgentCommand(("dev",))})
    budget = TaskBudget(SqliteRunLedger(database), Budget(tokens=1_000))
    engine = StageEngine(service, jobs, settings, clock, budget=budget)
    task = await service.approve((await service.create("api", "costly", SYSTEM)).id, SYSTEM)
    await engine.sync(task.id)

    for tokens in (600, 600):  # the second run passes the budget
        claim = await jobs.claim("me", clock.now(), ClaimLimits(10))
        assert claim is not None
        result = AgentResult(RunOutcome.TRANSIENT, 75, 1.0, "again", tmp_path / "log",
                             {"tokens_in": tokens})
        await engine.finish(claim, result)
        clock.advance(3600)

    blocked = await service.get(task.id)
    assert blocked.stage == "blocked"
    assert blocked.reason == "over budget: 1,200 tokens of 1,000 (2 runs · <1 min · 1.2k tokens)"
    kinds = [e.kind for e, _ in notifier.published]
    assert kinds.count(ChangeKind.BLOCKED) == 1 and await jobs.open_job(task.id) is None


async def test_queue_names_the_most_expensive_running_task(
        database: Database, clock: ManualClock) -> None:
    service = PipelineService(SqliteTaskStore(database), DEFAULT_PIPELINE, clock,
                              RecordingNotifier())
    jobs = SqliteJobStore(database)
    cheap = await run_once(database, clock, service, "cheap", Effort(cost=0.5), 60)
    dear = await run_once(database, clock, service, "dear", Effort(cost=2.0), 60)
    idle = await run_once(database, clock, service, "done", Effort(cost=9.0), 60)
    for task_id in (cheap, dear):  # running again; the 9-dollar task is not running
        task = await service.get(task_id)
        await jobs.enqueue(JobDraft(task.id, "queued", "developer", "api", task.version + 1,
                                    clock.now()), clock.now())
        assert await jobs.claim("me", clock.now(), ClaimLimits(10)) is not None

    block = await EffortView(SqliteRunLedger(database), clock).queue_block()

    assert block is not None and idle
    assert block.lines[1] == "most expensive running: ORCH-2 1 run · 1 min · $2.00"
