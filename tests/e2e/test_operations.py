"""What operators see of a running orch: /metrics moving with a scripted morning, and
/readyz naming what is wrong when the database is locked, Telegram is gone or ticks stop."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.http_api import build_http_app
from app.http_server import serve_http
from app.runtime import Orch, running
from app.tracker_sync import JOB_NAME
from core.clock import ManualClock
from core.sync.report import TickReport
from sandbox.team import Team, sandbox_settings
from sandbox.telegram.emulator import TelegramEmulator
from tests.orch_process import until


@asynccontextmanager
async def ops_client(orch: Orch) -> AsyncIterator[httpx.AsyncClient]:
    assert orch.ops is not None
    app = build_http_app(lessons=orch.lessons, queue=orch.queue, api_token="",
                         extra_routes=orch.ops.routes())
    async with serve_http(app, 0, host="127.0.0.1") as url:
        async with httpx.AsyncClient(base_url=url) as client:
            yield client


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]],
                                                       float]:
    answer = await client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_parse_and_move_with_a_morning(team: Team) -> None:
    async with ops_client(team.orch) as client:
        before = await scrape(client)
        for title in ("First", "Second"):
            await team.say(f"/new api {title}")
        await team.settle()
        await team.say("/queue")
        await team.say("/queue")
        after = await scrape(client)

    assert value(before, "orch_tasks", stage="queued") == 0
    assert value(after, "orch_tasks", stage="queued") == 2
    assert value(after, "orch_task_events_total", kind="created") == 2
    sent = ("orch_telegram_calls_total", {"method": "sendMessage", "outcome": "ok"})
    assert value(after, sent[0], **sent[1]) >= value(before, sent[0], **sent[1]) + 4
    assert value(after, "orch_telegram_sends_total", kind="send") >= 4
    assert value(after, "orch_summary_cache_answers_total", status="miss") >= 1
    assert value(after, "orch_summary_cache_answers_total", status="hit") >= 1
    assert value(after, "orch_outbox_depth") == 0


async def test_ready_while_all_is_well(team: Team) -> None:
    async with ops_client(team.orch) as client:
        answer = await client.get("/readyz")
        health = await client.get("/healthz")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["ready"] is True and answer.json()["failing"] == []
    assert set(answer.json()["checks"]) == {"start-up", "database", "telegram", "outbox"}
    assert health.status_code == 200


async def test_a_locked_database_is_named(team: Team, tmp_path: Path) -> None:
    other = sqlite3.connect(tmp_path / "orch.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the file
    try:
        async with ops_client(team.orch) as client:
            answer = await client.get("/readyz")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert answer.status_code == 503
    assert answer.json()["failing"] == ["database"]
    assert "locked" in answer.json()["checks"]["database"]["problem"]


async def test_telegram_gone_is_named(emulator: TelegramEmulator, clock: ManualClock,
                                      tmp_path: Path) -> None:
    async with AsyncExitStack() as orch_stack:
        emu_stack = AsyncExitStack()
        url = await emu_stack.enter_async_context(emulator.serve())
        orch = await orch_stack.enter_async_context(
            running(sandbox_settings(url, tmp_path / "orch.db"), clock, poll_timeout=1))
        client = await orch_stack.enter_async_context(ops_client(orch))
        assert (await client.get("/readyz")).status_code == 200
        await emu_stack.aclose()  # the Bot API goes away; polling fails from now on
        assert orch.ops is not None
        calls = orch.ops.calls
        await until(lambda: calls.last_call_ok is False, within=10.0,
                    what="a getUpdates that fails")
        clock.advance(120)

        answer = await client.get("/readyz")

        assert answer.status_code == 503
        assert answer.json()["failing"] == ["telegram"]
        assert "failed" in answer.json()["checks"]["telegram"]["problem"]


@pytest.fixture
async def with_plane(emulator: TelegramEmulator, clock: ManualClock,
                     tmp_path: Path) -> AsyncIterator[Team]:
    async with emulator.serve() as url:
        # a Plane nobody answers at: ticks run and fail, which is all this needs
        settings = sandbox_settings(url, tmp_path / "orch.db", reconcile_interval_s=60.0,
                                    plane_api_url="http://127.0.0.1:9", plane_api_token="t",
                                    plane_workspace_slug="w")
        async with running(settings, clock, poll_timeout=1) as orch:
            yield Team(emulator, orch, clock)


async def test_stopped_ticks_are_named(with_plane: Team) -> None:
    orch, clock = with_plane.orch, with_plane.clock
    assert orch.tracker is not None and orch.app.job_queue is not None
    for job in orch.app.job_queue.get_jobs_by_name(JOB_NAME):
        job.schedule_removal()  # the scheduled tick runs on real time: the test ticks itself
    async with ops_client(orch) as client:
        clock.advance(170)  # no tick yet, but within 3 intervals of the start
        assert "reconcile" not in (await client.get("/readyz")).json()["failing"]
        orch.tracker.reconciler.stats.add(_tick(clock), tick=True)
        clock.advance(181)

        answer = await client.get("/readyz")

    assert answer.status_code == 503 and "reconcile" in answer.json()["failing"]
    assert "due every 60 s" in answer.json()["checks"]["reconcile"]["problem"]


def _tick(clock: ManualClock) -> TickReport:
    return TickReport(clock.now(), 0.1, False, 0, 0, (), 0, 0, 0, 0, 0, 0, None)
