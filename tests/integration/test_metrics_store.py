"""/metrics' stored figures over real SQLite: run durations and claim waits bucketed by
role and outcome, parsed back with prometheus_client's own parser."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from app.metrics import LiveSources, OrchMetrics
from bot.telemetry import TelegramCalls
from core.clock import ManualClock
from core.integrations.plane.http import PlaneStats
from core.jobs.engine import StageEngine
from core.jobs.model import ClaimLimits, JobStatus, JobUpdate, RunEnd
from core.pipeline.service import PipelineService
from core.ports import NotifierHub
from core.sync.report import ReconcilerStats
from storage.database import Database
from storage.jobs import SqliteJobStore
from storage.metrics import SqliteMetrics
from storage.tasks import SqliteTaskStore
from tests.pipeline_world import LEAD, OWNER, settings_for


async def test_runs_and_claims_land_in_their_buckets(database: Database,
                                                     clock: ManualClock) -> None:
    settings = settings_for()
    hub = NotifierHub()
    pipeline = PipelineService(SqliteTaskStore(database), settings.pipeline, clock, hub)
    jobs = SqliteJobStore(database)
    engine = StageEngine(pipeline, jobs, settings, clock)
    hub.subscribe(engine)
    for title in ("A", "B"):
        task = await pipeline.create("api", title, LEAD)
        await pipeline.approve(task.id, LEAD)
    await engine.drain()
    clock.advance(3)  # both wait 3 s before their claim
    for duration, ok in ((12.0, True), (400.0, False)):
        claim = await jobs.claim(OWNER, clock.now(), ClaimLimits(10))
        assert claim is not None
        end = RunEnd(succeeded=ok, exit_code=0 if ok else 1, duration_s=duration)
        status = JobStatus.SUCCEEDED if ok else JobStatus.QUEUED
        await jobs.finish(claim.run.id, claim.job.id, end, JobUpdate(status), clock.now())

    page = await OrchMetrics(SqliteMetrics(database), LiveSources()).page()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(page.decode()) for s in f.samples}

    def run(outcome: str, le: str) -> float:
        labels = {"role": "developer", "outcome": outcome, "le": le}
        return samples[("orch_run_duration_seconds_bucket", tuple(sorted(labels.items())))]

    assert (run("succeeded", "5.0"), run("succeeded", "15.0"), run("succeeded", "+Inf")) == (
        0, 1, 1)
    assert (run("failed", "300.0"), run("failed", "900.0")) == (0, 1)
    claims = {"role": "developer", "le": "5.0"}
    assert samples[("orch_claim_latency_seconds_bucket", tuple(sorted(claims.items())))] == 2
    assert samples[("orch_claim_latency_seconds_count", (("role", "developer"),))] == 2
    assert samples[("orch_jobs", (("status", "queued"),))] == 1


DASHBOARD = (Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
             ).read_text("utf-8")


async def test_every_metric_the_sample_dashboard_plots_is_served(database: Database,
                                                                  clock: ManualClock) -> None:
    live = LiveSources(calls=TelegramCalls(clock), outbox_depth=lambda: 0,
                       pushes=lambda: {"push": 0, "digest": 0},
                       reconciler=ReconcilerStats, tracker=PlaneStats)
    page = (await OrchMetrics(SqliteMetrics(database), live).page()).decode()
    served = {f.name for f in text_string_to_metric_families(page)}
    plotted = set(re.findall(r"orch_[a-z_]+", DASHBOARD))
    # a histogram is served as name_bucket/_count/_sum, a counter as name_total
    bases = {re.sub(r"_(bucket|count|sum|total)$", "", name) for name in plotted}
    assert bases and bases <= served


async def test_merges_and_leases_are_counted(database: Database, clock: ManualClock) -> None:
    pipeline = PipelineService(SqliteTaskStore(database), settings_for().pipeline, clock,
                               NotifierHub())
    task = await pipeline.create("api", "A", LEAD)
    at = "2026-11-21T09:00:00.000000Z"
    async with database.transaction() as tx:
        await tx.execute(
            "INSERT INTO merge_leases (repo, task_id, task_key, owner, acquired_at,"
            " phase_since, expires_at) VALUES ('api', ?, ?, 'o', ?, ?, ?)",
            (task.id, task.key, at, at, at))
        await tx.execute(
            "INSERT INTO merges (task_id, repo, forge_repo, branch, state, updated_at)"
            " VALUES (?, 'api', 'team/api', 'b', 'merging', ?)", (task.id, at))

    figures = await SqliteMetrics(database).figures()

    assert (figures.merges_by_state, figures.leases) == ({"merging": 1}, {"held": 1})
