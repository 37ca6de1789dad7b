"""The real journal plugged into the stage engine the way the runtime plugs it: gate
failures and spent retries leave lessons, later jobs are told the open ones, and a
failing journal costs only the lessons."""

from __future__ import annotations

from pathlib import Path

from core.clock import ManualClock
from core.jobs.agents import RunOutcome
from core.lessons.journal import LessonFilter, LessonJournal, LessonStatus, LessonUpdate
from core.pipeline.stages import BLOCKED
from tests.fakes import FailingLessonStore, InMemoryLessonStore
from tests.pipeline_world import LEAD, World

GOOD = {"reviewer": {"verdict": "APPROVE"}, "tester": {"tests_passed": True}}


def world_with(tmp_path: Path, journal_store: object) -> tuple[World, LessonJournal]:
    clock = ManualClock()
    journal = LessonJournal(journal_store, clock)  # type: ignore[arg-type]
    return World(tmp_path, clock=clock, lessons=journal), journal  # type: ignore[arg-type]


async def rolled_back_from_testing(world: World) -> None:
    """One task fails its tests and goes back; it is then cancelled to keep the queue free."""
    task_id = await to_stage(world, "testing")
    await world.finish_open_job(await world.task(task_id), tests_passed=False)
    await world.engine.drain()
    assert (await world.task(task_id)).stage == "development"
    await world.pipeline.cancel(task_id, LEAD, "not needed")
    await world.engine.drain()


async def to_stage(world: World, stage: str, title: str = "Add retry") -> int:
    task = await world.approved(title)
    await world.engine.drain()
    while (task := await world.task(task.id)).stage != stage:
        job = await world.open_job(task)
        assert job is not None, task
        await world.finish_open_job(task, **GOOD.get(job.role, {}))
        await world.engine.drain()
    return task.id


async def test_a_failing_test_gate_leaves_a_lesson_the_next_tester_is_told(
        tmp_path: Path) -> None:
    world, journal = world_with(tmp_path, InMemoryLessonStore())

    await rolled_back_from_testing(world)

    [lesson] = await journal.get()
    assert (lesson.lesson_type, lesson.stage, lesson.agent_role, lesson.repo, lesson.detail,
            lesson.source) == ("gate_failure", "testing", "tester", "api", "tests_passed", "auto")
    second = await to_stage(world, "testing", "Another change")
    job = await world.open_job(await world.task(second))
    assert job is not None and len(job.context.lessons) == 1
    assert "tests_passed" in job.context.lessons[0]


async def test_closed_lessons_are_not_fed_to_agents(tmp_path: Path) -> None:
    world, journal = world_with(tmp_path, InMemoryLessonStore())
    await rolled_back_from_testing(world)
    [lesson] = await journal.get()
    assert await journal.update(lesson.id, LessonUpdate(status=LessonStatus.CLOSED))

    second = await to_stage(world, "testing", "Another change")

    job = await world.open_job(await world.task(second))
    assert job is not None and job.context.lessons == ()


async def test_spent_retries_leave_a_transient_retry_lesson(tmp_path: Path) -> None:
    world, journal = world_with(tmp_path, InMemoryLessonStore())
    task = await world.approved()
    await world.engine.drain()
    for _ in range(3):
        await world.finish_open_job(task, RunOutcome.TRANSIENT)
        await world.engine.drain()
        world.clock.advance(3600)

    assert (await world.task(task.id)).stage == BLOCKED
    [lesson] = await journal.get(LessonFilter(lesson_type="transient_retry"))
    assert (lesson.stage, lesson.agent_role, lesson.work_item) == (
        "development", "developer", task.key)
    assert lesson.root_cause == "transient on purpose (3 of 3 tries)"


async def test_a_failing_journal_never_breaks_a_rollback_or_a_block(tmp_path: Path) -> None:
    world, journal = world_with(tmp_path, FailingLessonStore())
    first = await to_stage(world, "testing")
    await world.finish_open_job(await world.task(first), tests_passed=False)
    await world.engine.drain()
    assert (await world.task(first)).stage == "development"

    job = await world.open_job(await world.task(first))
    assert job is not None and job.context.lessons == ()
    for _ in range(3):
        await world.finish_open_job(await world.task(first), RunOutcome.TRANSIENT)
        await world.engine.drain()
        world.clock.advance(3600)
    assert (await world.task(first)).stage == BLOCKED
    assert journal.errors_total >= 3
