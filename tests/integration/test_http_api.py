"""The HTTP API over real HTTP on 127.0.0.1: auth, the lessons endpoints, /api/queue."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from app.http_api import build_http_app
from app.http_server import serve_http
from core.clock import ManualClock
from core.lessons.journal import LessonDraft, LessonJournal, Source
from core.pipeline.service import PipelineService
from core.pipeline.stages import DEFAULT_PIPELINE
from core.pipeline.tasks import Actor
from core.queue_view import QueueService
from storage.database import Database
from storage.lessons import SqliteLessonStore
from tests.fakes import UntouchableLessonStore

TOKEN = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LEAD = Actor("telegram", "501")


@pytest.fixture
def journal(database: Database, clock: ManualClock) -> LessonJournal:
    return LessonJournal(SqliteLessonStore(database), clock)


@pytest.fixture
def queue(service: PipelineService, journal: LessonJournal, clock: ManualClock) -> QueueService:
    view = QueueService(service, DEFAULT_PIPELINE, clock)
    view.add_source(journal)
    return view


@asynccontextmanager
async def client_for(journal: LessonJournal, queue: QueueService, token: str,
                     ) -> AsyncIterator[httpx.AsyncClient]:
    app = build_http_app(lessons=journal, queue=queue, api_token=token)
    async with serve_http(app, 0, host="127.0.0.1") as url:
        async with httpx.AsyncClient(base_url=url) as client:
            yield client


@pytest.fixture
async def api(journal: LessonJournal, queue: QueueService) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(journal, queue, TOKEN) as client:
        yield client


ENDPOINTS = [("GET", "/api/lessons"), ("POST", "/api/lessons"), ("POST", "/api/lessons/1"),
             ("GET", "/api/queue")]


# --- auth ---------------------------------------------------------------------------


async def test_health_needs_no_token(api: httpx.AsyncClient) -> None:
    answer = await api.get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"ok": True}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
async def test_a_missing_or_wrong_token_is_401_and_nothing_happens(
        api: httpx.AsyncClient, journal: LessonJournal, method: str, path: str,
        header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    answer = await api.request(method, path, headers=headers, json={"lesson_type": "x"})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert await journal.get() == []


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_without_a_configured_token_the_api_is_off(
        journal: LessonJournal, queue: QueueService, method: str, path: str) -> None:
    async with client_for(journal, queue, "") as client:
        answer = await client.request(method, path, headers={"Authorization": "Bearer any"},
                                      json={"lesson_type": "x"})
        assert answer.status_code == 404 and "ORCH_API_TOKEN" in answer.json()["error"]
        assert (await client.get("/healthz")).status_code == 200


async def test_the_token_never_reaches_the_log(
        api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await api.get("/api/lessons", headers=AUTH)
    await api.get("/api/lessons", headers={"Authorization": f"Bearer {TOKEN}-wrong"})
    assert TOKEN not in caplog.text


# --- the kill-switch ----------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ENDPOINTS[:3])
async def test_switched_off_the_lessons_endpoints_say_so_and_touch_nothing(
        queue: QueueService, clock: ManualClock, method: str, path: str) -> None:
    store = UntouchableLessonStore()
    off = LessonJournal(store, clock, enabled=False)
    async with client_for(off, queue, TOKEN) as client:
        answer = await client.request(method, path, headers=AUTH, json={"status": "closed"})
        assert answer.status_code == 200 and answer.json() == {"enabled": False}
    assert store.touched == []


# --- lessons ------------------------------------------------------------------------


async def test_a_manual_lesson_is_created_with_its_attribution(
        api: httpx.AsyncClient, journal: LessonJournal) -> None:
    answer = await api.post("/api/lessons", headers=AUTH, json={
        "lesson_type": "process_gap", "work_item": "orch-98", "repo": "api",
        "attribution": "platform", "target_domain": "quality", "root_cause": "manual note",
        "source": "auto"})

    assert answer.status_code == 201
    lesson = await journal.find(answer.json()["id"])
    assert lesson is not None
    assert (lesson.source, lesson.work_item, lesson.attribution, lesson.target_domain) == (
        "manual", "ORCH-98", "platform", "quality")


@pytest.mark.parametrize(("body", "message"), [
    ({"work_item": "ORCH-1"}, "lesson_type is required"),
    ({"lesson_type": "  "}, "lesson_type is required"),
    ({"lesson_type": "Bad Type!"}, "lesson_type must be"),
    ({"lesson_type": "x", "attribution": "ops"}, "attribution must be"),
    ({"lesson_type": "x", "task_id": "7"}, "task_id must be"),
    ({"lesson_type": "x", "repo": 5}, "repo must be text"),
])
async def test_a_bad_lesson_is_400_with_a_message_and_no_row(
        api: httpx.AsyncClient, journal: LessonJournal, body: dict[str, object],
        message: str) -> None:
    answer = await api.post("/api/lessons", headers=AUTH, json=body)
    assert answer.status_code == 400 and message in answer.json()["error"]
    assert (await journal.snapshot()).total == 0


async def test_a_body_that_is_not_a_json_object_is_400(api: httpx.AsyncClient) -> None:
    for content in (b"not json", b"[1, 2]"):
        answer = await api.post("/api/lessons", headers=AUTH, content=content)
        assert answer.status_code == 400 and "JSON object" in answer.json()["error"]


async def test_listing_takes_the_same_filters_as_the_chat(
        api: httpx.AsyncClient, journal: LessonJournal, clock: ManualClock) -> None:
    await journal.record(LessonDraft("gate_failure", Source.AUTO, work_item="ORCH-1",
                                     repo="api", stage="review"))
    clock.advance(3600)
    await journal.record(LessonDraft("merge_hold", Source.AUTO, work_item="ORCH-2",
                                     repo="web", stage="merge"))

    async def ids(**params: str) -> list[str]:
        answer = await api.get("/api/lessons", headers=AUTH, params=params)
        assert answer.status_code == 200 and answer.json()["enabled"] is True
        return [x["work_item"] for x in answer.json()["lessons"]]

    assert await ids() == ["ORCH-2", "ORCH-1"]
    assert await ids(type="gate_failure") == ["ORCH-1"]
    assert await ids(repo="web") == ["ORCH-2"]
    assert await ids(key="orch-1") == ["ORCH-1"]
    assert await ids(status="open", limit="1") == ["ORCH-2"]
    assert await ids(status="closed") == []
    assert await ids(since="2026-11-21T09:30:00Z") == ["ORCH-2"]
    for bad in ({"status": "done"}, {"limit": "0"}, {"since": "yesterday"}, {"colour": "red"}):
        answer = await api.get("/api/lessons", headers=AUTH, params=bad)
        assert answer.status_code == 400 and answer.json()["error"]


async def test_a_lesson_is_triaged_through_its_update_endpoint(
        api: httpx.AsyncClient, journal: LessonJournal) -> None:
    lesson_id = await journal.record(LessonDraft("gate_failure", Source.AUTO)) or 0
    path = f"/api/lessons/{lesson_id}"

    answer = await api.post(path, headers=AUTH, json={"status": "closed",
                                                      "related_task": "ORCH-300"})
    assert answer.status_code == 200
    assert (answer.json()["lesson"]["status"], answer.json()["lesson"]["version"]) == (
        "closed", 2)
    assert answer.json()["lesson"]["updated_at"] is not None

    stale = await api.post(path, headers=AUTH, json={"status": "new", "version": 1})
    assert stale.status_code == 409
    assert (await api.post("/api/lessons/999", headers=AUTH,
                           json={"status": "new"})).status_code == 404
    for bad in ({}, {"status": "done"}, {"version": 2}, {"colour": "red"},
                {"status": "new", "version": "2"}):
        assert (await api.post(path, headers=AUTH, json=bad)).status_code == 400
    assert (await journal.find(lesson_id)).status == "closed"  # type: ignore[union-attr]


# --- the queue ----------------------------------------------------------------------


async def test_the_queue_is_served_as_json_with_the_lessons_block(
        api: httpx.AsyncClient, service: PipelineService, journal: LessonJournal) -> None:
    created = await service.create("api", "Add retry", LEAD)
    await journal.record(LessonDraft("gate_failure", Source.AUTO, work_item=created.key))

    answer = await api.get("/api/queue", headers=AUTH)

    assert answer.status_code == 200
    body = answer.json()
    assert body["stages"] == [{"stage": "queued", "count": 1, "tasks": [
        {"key": created.key, "title": "Add retry", "stage": "queued", "age_s": 0,
         "why": None}]}]
    lessons = next(b for b in body["blocks"] if b["title"] == "Lessons")
    assert lessons["data"]["open"] == 1 and lessons["data"]["open_by_type"] == {
        "gate_failure": 1}
