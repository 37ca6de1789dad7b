"""The lessons journal: what it records, how it is read and triaged, and that it never
gets in the pipeline's way (never-raise, kill-switch). Runs on both stores."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.clock import ManualClock
from core.jobs.agents import build_prompt
from core.lessons.journal import (
    OPEN,
    Attribution,
    LessonDraft,
    LessonFilter,
    LessonJournal,
    LessonStatus,
    LessonType,
    LessonUpdate,
    Source,
)
from core.pipeline.stages import DEFAULT_PIPELINE, DEFAULT_STAGES, Pipeline
from core.pipeline.tasks import Task
from storage.database import Database, _run_script, load_migrations
from storage.lessons import SqliteLessonStore
from tests.fakes import FailingLessonStore, InMemoryLessonStore, UntouchableLessonStore

COLUMNS = {
    "id", "created_at", "updated_at", "version", "lesson_type", "work_item", "task_id",
    "stage", "agent_role", "repo", "detail", "root_cause", "suggestion", "status",
    "related_task", "source", "attribution", "target_repo", "target_domain",
}


@pytest.fixture(params=["memory", "sqlite"])
def journal(request: pytest.FixtureRequest, clock: ManualClock) -> LessonJournal:
    """The journal over each store in turn: both must behave the same."""
    if request.param == "memory":
        return LessonJournal(InMemoryLessonStore(), clock)
    return LessonJournal(SqliteLessonStore(request.getfixturevalue("database")), clock)


def task(key: str = "ORCH-7", repo: str = "api", task_id: int = 7) -> Task:
    at = ManualClock().now()
    return Task(task_id, key, repo, "Title", "review", 3, at, at, at)


def auto(kind: str = "gate_failure", key: str = "ORCH-1", stage: str = "review",
         **more: object) -> LessonDraft:
    return LessonDraft(kind, Source.AUTO, work_item=key, stage=stage, **more)  # type: ignore[arg-type]


# --- the table --------------------------------------------------------------------


async def test_the_table_has_every_column_and_running_its_migration_again_changes_nothing(
        database: Database) -> None:
    async def shape() -> list[tuple[object, ...]]:
        rows = await database.fetch_all("PRAGMA table_info(lessons)")
        return [tuple(r) for r in rows]

    before = await shape()
    script = next(sql for number, _, sql in load_migrations() if number == 3)
    for _ in range(2):
        async with database.transaction() as tx:
            await _run_script(tx, script)
    assert await shape() == before
    assert {row[1] for row in before} == COLUMNS


async def test_attribution_starts_empty_and_is_set_during_triage(
        journal: LessonJournal) -> None:
    lesson_id = await journal.record(auto("deploy_degraded", repo="api"))
    assert lesson_id is not None
    fresh = await journal.find(lesson_id)
    assert fresh is not None
    assert (fresh.attribution, fresh.target_repo, fresh.target_domain) == (None, None, None)

    change = LessonUpdate(attribution=Attribution.PLATFORM, target_repo="orch",
                          target_domain="reliability")
    assert await journal.update(lesson_id, change)
    later = await journal.find(lesson_id)
    assert later is not None
    assert (later.attribution, later.target_repo, later.target_domain) == (
        "platform", "orch", "reliability")


async def test_record_returns_the_new_id_and_keeps_every_field(journal: LessonJournal) -> None:
    first = await journal.record(auto(task_id=7, agent_role="reviewer", repo="api",
                                      detail="review_approved", root_cause="REQUEST_CHANGES"))
    second = await journal.record(LessonDraft("custom_note", Source.MANUAL, work_item="orch-2"))

    assert isinstance(first, int) and isinstance(second, int) and second != first
    lesson = await journal.find(first)
    assert lesson is not None
    assert (lesson.lesson_type, lesson.task_id, lesson.agent_role, lesson.source,
            lesson.status, lesson.version, lesson.updated_at) == (
        "gate_failure", 7, "reviewer", "auto", "new", 1, None)
    assert lesson.created_at == journal._clock.now()  # type: ignore[attr-defined]
    assert (await journal.find(second)).work_item == "ORCH-2"  # type: ignore[union-attr]


# --- never-raise and the kill-switch ----------------------------------------------


async def test_a_failing_store_gives_safe_answers_and_counts_errors(clock: ManualClock) -> None:
    journal = LessonJournal(FailingLessonStore(), clock)

    assert await journal.record(auto()) is None
    assert await journal.get() == []
    assert await journal.find(1) is None
    assert await journal.update(1, LessonUpdate(status=LessonStatus.CLOSED)) is False
    snap = await journal.snapshot()
    assert (snap.enabled, snap.available, snap.total) == (True, False, 0)
    assert await journal.open_lessons("api", "review") == []
    block = await journal.queue_block()
    assert block is not None and "could not be read" in block.lines[0]
    assert journal.errors_total == 8
    assert journal.deduplicated_total == 0


async def test_malformed_requests_are_refused_without_raising(journal: LessonJournal) -> None:
    assert await journal.record(LessonDraft("Not A Type")) is None
    assert await journal.record(LessonDraft(123)) is None  # type: ignore[arg-type]
    assert await journal.record(LessonDraft("x", attribution="ops")) is None  # type: ignore[arg-type]
    assert await journal.get(LessonFilter(limit="many")) == []  # type: ignore[arg-type]
    assert await journal.update(1, None) is False  # type: ignore[arg-type]
    assert (await journal.snapshot()).total == 0


async def test_a_closed_database_is_a_failing_database_too(
        database: Database, clock: ManualClock) -> None:
    journal = LessonJournal(SqliteLessonStore(database), clock)
    await database.close()

    assert await journal.record(auto()) is None
    assert await journal.get() == []
    assert await journal.update(1, LessonUpdate(status=LessonStatus.CLOSED)) is False
    assert (await journal.snapshot()).available is False
    assert journal.errors_total == 4


async def test_switched_off_every_call_is_inert_and_touches_no_store(clock: ManualClock) -> None:
    store = UntouchableLessonStore()
    journal = LessonJournal(store, clock, enabled=False)

    assert await journal.record(auto()) is None
    assert await journal.get(LessonFilter(status=OPEN)) == []
    assert await journal.find(1) is None
    assert await journal.update(1, LessonUpdate(status=LessonStatus.CLOSED)) is False
    assert (await journal.snapshot()).enabled is False
    assert await journal.open_lessons("api", "review") == []
    assert await journal.queue_block() is None
    assert await journal.on_gate_failure(task(), "review", "reviewer", "g", "r") is None
    assert await journal.on_retries_spent(task(), "development", "developer", "r") is None
    assert store.touched == [] and journal.errors_total == 0


# --- reading ------------------------------------------------------------------------


async def test_filters_limit_and_newest_first(journal: LessonJournal, clock: ManualClock) -> None:
    for n in range(5):
        await journal.record(auto(key=f"ORCH-{n}", repo="api"))
        clock.advance(60)
    closed = await journal.record(auto("merge_hold", key="ORCH-9", repo="web", stage="merge"))
    assert closed is not None
    await journal.update(closed, LessonUpdate(status=LessonStatus.CLOSED))

    everything = await journal.get(LessonFilter(limit=100))
    assert [x.id for x in everything] == sorted((x.id for x in everything), reverse=True)
    assert len(await journal.get(LessonFilter(lesson_type="gate_failure"))) == 5
    assert [x.id for x in await journal.get(LessonFilter(status="closed"))] == [closed]
    assert len(await journal.get(LessonFilter(status=OPEN))) == 5
    assert [x.work_item for x in await journal.get(LessonFilter(repo="web"))] == ["ORCH-9"]
    assert len(await journal.get(LessonFilter(work_item="orch-3"))) == 1
    assert len(await journal.get(LessonFilter(lesson_type="gate_failure", limit=2))) == 2
    recent = await journal.get(LessonFilter(since=clock.now() - timedelta(seconds=90)))
    assert [x.work_item for x in recent] == ["ORCH-9", "ORCH-4"]


async def test_snapshot_counts_by_type_and_status(journal: LessonJournal) -> None:
    for key in ("ORCH-1", "ORCH-2"):
        await journal.record(auto(key=key))
    held = await journal.record(auto("merge_hold", stage="merge"))
    await journal.update(held or 0, LessonUpdate(status=LessonStatus.CLOSED))

    snap = await journal.snapshot()

    assert snap.total == 3
    assert dict(snap.by_type) == {"gate_failure": 2, "merge_hold": 1}
    assert dict(snap.by_status) == {"new": 2, "closed": 1}
    assert dict(snap.open_by_type) == {"gate_failure": 2} and snap.open_total == 2


# --- triage -------------------------------------------------------------------------


async def test_update_stamps_the_time_and_bumps_the_version(
        journal: LessonJournal, clock: ManualClock) -> None:
    lesson_id = await journal.record(auto()) or 0
    clock.advance(300)

    assert await journal.update(lesson_id, LessonUpdate(status=LessonStatus.IN_PROGRESS,
                                                        related_task="ORCH-200"))
    lesson = await journal.find(lesson_id)
    assert lesson is not None
    assert (lesson.status, lesson.related_task, lesson.version) == ("in_progress", "ORCH-200", 2)
    assert lesson.updated_at == clock.now()


async def test_an_unknown_id_or_an_empty_or_bad_update_changes_nothing(
        journal: LessonJournal) -> None:
    lesson_id = await journal.record(auto()) or 0

    assert await journal.update(999, LessonUpdate(status=LessonStatus.CLOSED)) is False
    assert await journal.update(lesson_id, LessonUpdate()) is False
    assert await journal.update(lesson_id, LessonUpdate(status="done")) is False  # type: ignore[arg-type]
    assert await journal.update(lesson_id, LessonUpdate(attribution="ops")) is False  # type: ignore[arg-type]
    lesson = await journal.find(lesson_id)
    assert lesson is not None and (lesson.status, lesson.version) == ("new", 1)
    assert journal.errors_total == 0


async def test_an_update_at_an_old_version_changes_nothing(journal: LessonJournal) -> None:
    lesson_id = await journal.record(auto()) or 0
    assert await journal.update(lesson_id, LessonUpdate(status=LessonStatus.IN_PROGRESS),
                                expected_version=1)

    assert not await journal.update(lesson_id, LessonUpdate(status=LessonStatus.CLOSED),
                                    expected_version=1)
    assert (await journal.find(lesson_id)).status == "in_progress"  # type: ignore[union-attr]


# --- de-duplication -----------------------------------------------------------------


async def test_auto_lessons_are_deduplicated_within_the_window_manual_never(
        journal: LessonJournal, clock: ManualClock) -> None:
    first = await journal.record(auto("transient_retry", stage="deploy"))
    again = await journal.record(auto("transient_retry", stage="deploy"))
    other_stage = await journal.record(auto("transient_retry", stage="testing"))
    manual = [await journal.record(LessonDraft("transient_retry", Source.MANUAL,
                                               work_item="ORCH-1", stage="deploy"))
              for _ in range(2)]
    clock.advance(3601)
    after_window = await journal.record(auto("transient_retry", stage="deploy"))

    assert first is not None and again is None and other_stage is not None
    assert None not in manual and manual[0] != manual[1]
    assert after_window is not None
    assert journal.deduplicated_total == 1


async def test_window_zero_turns_deduplication_off(clock: ManualClock) -> None:
    journal = LessonJournal(InMemoryLessonStore(), clock, dedup_window_s=0)

    ids = [await journal.record(auto()) for _ in range(3)]

    assert None not in ids and len(set(ids)) == 3


# --- hooks the pipeline calls -------------------------------------------------------


async def test_a_gate_failure_records_what_failed_where(journal: LessonJournal) -> None:
    lesson_id = await journal.on_gate_failure(task(), "testing", "tester", "tests_passed",
                                              "2 failed")

    lesson = await journal.find(lesson_id or 0)
    assert lesson is not None
    assert (lesson.lesson_type, lesson.work_item, lesson.task_id, lesson.stage,
            lesson.agent_role, lesson.repo, lesson.detail, lesson.root_cause,
            lesson.source) == ("gate_failure", "ORCH-7", 7, "testing", "tester", "api",
                               "tests_passed", "2 failed", "auto")


async def test_spent_retries_merge_holds_and_degraded_deploys_are_recorded(
        journal: LessonJournal) -> None:
    await journal.on_retries_spent(task(), "development", "developer", "timed out 3 times")
    await journal.merge_hold(task(), "main moved; rebase conflicts", detail="premerge")
    await journal.deploy_degraded(task(), "health check 503", detail="canary")

    kinds = [(x.lesson_type, x.stage, x.root_cause) for x in await journal.get()]
    assert kinds == [
        ("deploy_degraded", "deploy", "health check 503"),
        ("merge_hold", "merge", "main moved; rebase conflicts"),
        ("transient_retry", "development", "timed out 3 times"),
    ]


async def test_a_failing_journal_never_breaks_the_caller(clock: ManualClock) -> None:
    journal = LessonJournal(FailingLessonStore(), clock)

    assert await journal.on_gate_failure(task(), "testing", "tester", "g", "r") is None
    assert await journal.on_retries_spent(task(), "deploy", "deployer", "r") is None
    assert await journal.merge_hold(task(), "r") is None
    assert await journal.deploy_degraded(task(), "r") is None
    # even a caller's object that is not a task is contained
    assert await journal.on_gate_failure(object(), "x", None, "g", "r") is None  # type: ignore[arg-type]
    assert journal.errors_total == 5


# --- fed back to agents -------------------------------------------------------------


async def test_agents_are_told_open_lessons_of_their_repo_and_stage_never_closed(
        journal: LessonJournal) -> None:
    await journal.on_gate_failure(task("ORCH-1"), "review", "reviewer", "lint", "unused import")
    done = await journal.on_gate_failure(task("ORCH-2"), "review", "reviewer", "lint", "typo")
    await journal.update(done or 0, LessonUpdate(status=LessonStatus.CLOSED))
    await journal.on_gate_failure(task("ORCH-3", repo="web"), "review", "reviewer", "x", "y")
    await journal.on_gate_failure(task("ORCH-4"), "testing", "tester", "tests", "flaky")
    await journal.record(LessonDraft("process_gap", Source.MANUAL, repo="api",
                                     root_cause="migrations need a second reviewer"))

    lines = await journal.open_lessons("api", "review")
    prompt = build_prompt(task_key="ORCH-9", title="t", description="d", stage="review",
                          role="reviewer", attempt=1, lessons=lines)

    assert len(lines) == 2
    assert "unused import" in prompt and "second reviewer" in prompt
    assert "typo" not in prompt and "flaky" not in prompt and "ORCH-3" not in prompt
    assert len(await journal.open_lessons("api", "review", limit=1)) == 1


async def test_the_queue_block_shows_open_lessons_by_type_and_the_newest(
        journal: LessonJournal) -> None:
    empty = await journal.queue_block()
    assert empty is not None and "No open lessons" in empty.lines[0]
    await journal.on_gate_failure(task("ORCH-1"), "review", "reviewer", "lint", "unused")
    await journal.on_retries_spent(task("ORCH-2"), "deploy", "deployer", "timeout")

    block = await journal.queue_block()

    assert block is not None and block.title == "Lessons"
    assert block.lines[0] == "2 open: gate_failure 1 · transient_retry 1"
    assert block.lines[1].startswith("newest: #2 transient_retry")
    assert block.data["open"] == 2


def test_the_journal_adds_no_stage_edge_and_no_gate() -> None:
    assert DEFAULT_PIPELINE.transitions == Pipeline(DEFAULT_STAGES).transitions
    gates = {gate for spec in DEFAULT_STAGES for gate in spec.gates}
    assert not any("lesson" in gate for gate in gates)
    assert not any("lesson" in stage for stage in DEFAULT_PIPELINE.order)
    assert {t.value for t in LessonType} >= {"gate_failure", "transient_retry", "merge_hold",
                                             "deploy_degraded", "process_gap"}
