"""The lessons table and SqliteLessonStore on a real SQLite file, and the contract the
in-memory store shares with it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.lessons.journal import (
    Attribution,
    LessonDraft,
    LessonFilter,
    LessonStatus,
    LessonUpdate,
    Source,
)
from core.ports import LessonStore
from storage.database import Database, IntegrityViolation, _run_script, load_migrations
from storage.lessons import SqliteLessonStore
from storage.queries import queries
from tests.fakes import InMemoryLessonStore

AUTO = LessonDraft("gate_failure", Source.AUTO, work_item="ORCH-1", stage="review", repo="api")


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest) -> LessonStore:
    if request.param == "memory":
        return InMemoryLessonStore()
    return SqliteLessonStore(request.getfixturevalue("database"))


async def file_before_lessons(path: Path, *, table_made_by_hand: bool) -> None:
    """A file as orch left it before 0003: migrations 1-2 applied, a task in it; the
    lessons table present anyway when `table_made_by_hand`."""
    db = await Database.open(path, migrate=False)
    async with db.transaction() as tx:
        for number, _, sql in load_migrations():
            if number < 3 or (number == 3 and table_made_by_hand):
                await _run_script(tx, sql)
        await tx.execute(
            "INSERT INTO tasks (key, repo, title, stage, created_at, updated_at,"
            " stage_entered_at) VALUES ('ORCH-1', 'api', 't', 'queued', 'a', 'a', 'a')")
        if table_made_by_hand:
            await tx.insert("INSERT INTO lessons (created_at, lesson_type, source)"
                            " VALUES ('a', 'gate_failure', 'auto')")
        await tx.execute("PRAGMA user_version = 2")
    await db.close()


# --- the migration ------------------------------------------------------------------


@pytest.mark.parametrize("by_hand", [False, True])
async def test_the_migration_applies_to_an_existing_file_and_keeps_its_data(
        db_path: Path, by_hand: bool) -> None:
    await file_before_lessons(db_path, table_made_by_hand=by_hand)

    db = await Database.open(db_path)
    try:
        assert await db.schema_version() >= 3
        tasks = await db.fetch_all("SELECT key FROM tasks")
        lessons = await db.fetch_all("SELECT lesson_type FROM lessons")
    finally:
        await db.close()
    assert [r["key"] for r in tasks] == ["ORCH-1"]
    assert len(lessons) == (1 if by_hand else 0)


async def test_the_indexes_exist_and_the_duplicate_probe_uses_its_own(
        database: Database) -> None:
    rows = await database.fetch_all("PRAGMA index_list(lessons)")
    partial = {r["name"]: bool(r["partial"]) for r in rows}
    assert partial["lessons_auto_dedup"] and partial["lessons_open_by_repo"]

    plan = await database.fetch_all(
        "EXPLAIN QUERY PLAN " + queries("lessons")["recent_auto_duplicate"],
        {"lesson_type": "x", "work_item": "A-1", "stage": "s", "since": "0"})
    assert "lessons_auto_dedup" in " ".join(str(r["detail"]) for r in plan)


@pytest.mark.parametrize(("column", "value"), [
    ("status", "done"), ("attribution", "ops"), ("source", "robot"), ("lesson_type", ""),
])
async def test_the_schema_refuses_values_outside_the_vocabulary(
        database: Database, column: str, value: str) -> None:
    values = {"created_at": "a", "lesson_type": "gate_failure", "source": "auto", column: value}
    names = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    with pytest.raises(IntegrityViolation, match="CHECK"):
        async with database.transaction() as tx:
            await tx.insert(f"INSERT INTO lessons ({names}) VALUES ({marks})", values)


async def test_lessons_survive_a_restart(db_path: Path, clock: ManualClock) -> None:
    db = await Database.open(db_path)
    lesson_id = await SqliteLessonStore(db).insert(AUTO, clock.now(), duplicate_since=None)
    await db.close()

    db = await Database.open(db_path)
    try:
        found = await SqliteLessonStore(db).get(lesson_id or 0)
    finally:
        await db.close()
    assert found is not None and found.work_item == "ORCH-1" and found.created_at == clock.now()


# --- the store contract (both stores) -----------------------------------------------


async def test_the_duplicate_probe_matches_type_work_item_and_stage_including_empty(
        store: LessonStore, clock: ManualClock) -> None:
    since = clock.now() - timedelta(hours=1)
    bare = LessonDraft("process_gap", Source.AUTO)

    assert await store.insert(AUTO, clock.now(), duplicate_since=since) is not None
    assert await store.insert(AUTO, clock.now(), duplicate_since=since) is None
    assert await store.insert(bare, clock.now(), duplicate_since=since) is not None
    assert await store.insert(bare, clock.now(), duplicate_since=since) is None
    assert await store.insert(AUTO, clock.now(), duplicate_since=None) is not None
    assert await store.insert(AUTO, clock.now(), duplicate_since=clock.now()
                              + timedelta(seconds=1)) is not None


async def test_a_manual_lesson_never_counts_as_a_duplicate_of_an_auto_one(
        store: LessonStore, clock: ManualClock) -> None:
    manual = LessonDraft("gate_failure", Source.MANUAL, work_item="ORCH-1", stage="review")
    await store.insert(manual, clock.now(), duplicate_since=None)

    assert await store.insert(AUTO, clock.now(), duplicate_since=clock.now()) is not None


async def test_update_is_compare_and_set_on_the_version(
        store: LessonStore, clock: ManualClock) -> None:
    lesson_id = await store.insert(AUTO, clock.now(), duplicate_since=None) or 0
    close = LessonUpdate(status=LessonStatus.CLOSED, attribution=Attribution.BOTH)

    assert not await store.update(lesson_id, close, clock.now(), expected_version=2)
    assert await store.update(lesson_id, close, clock.now(), expected_version=1)
    assert not await store.update(lesson_id + 1, close, clock.now(), expected_version=None)
    lesson = await store.get(lesson_id)
    assert lesson is not None
    assert (lesson.status, lesson.attribution, lesson.version) == ("closed", "both", 2)
    assert lesson.root_cause is None and lesson.repo == "api"  # untouched fields stay


async def test_open_with_stageless_lessons_and_counts(
        store: LessonStore, clock: ManualClock) -> None:
    general = LessonDraft("process_gap", Source.MANUAL, repo="api")
    for draft in (AUTO, general, LessonDraft("x", Source.MANUAL, repo="api", stage="deploy")):
        await store.insert(draft, clock.now(), duplicate_since=None)

    query = LessonFilter(status="open", repo="api", stage="review", or_stageless=True)
    assert [x.lesson_type for x in await store.query(query)] == ["process_gap", "gate_failure"]
    strict = LessonFilter(repo="api", stage="review")
    assert [x.lesson_type for x in await store.query(strict)] == ["gate_failure"]
    assert sorted(await store.counts()) == [("gate_failure", "new", 1),
                                            ("process_gap", "new", 1), ("x", "new", 1)]
