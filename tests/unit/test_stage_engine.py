"""The stage engine over in-memory stores: what it enqueues, when it moves, and that
running it again on an unchanged task changes nothing and tells nobody."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.agents import RunOutcome
from core.errors import ConfigError, IllegalTransition
from core.jobs import Failure, JobStatus
from core.pipeline import BLOCKED, DONE, Pipeline, StageSpec
from core.pipeline_service import PipelineService
from core.stage_engine import StageEngine
from core.tasks import ChangeKind
from tests.pipeline_world import LEAD, World, settings_for


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


async def at_stage(world: World, stage: str, **structured_by_role: dict[str, object]) -> int:
    """A task driven to `stage` with succeeding jobs; returns its id."""
    task = await world.approved()
    await world.engine.drain()
    while (task := await world.task(task.id)).stage != stage:
        job = await world.open_job(task)
        assert job is not None, task
        await world.finish_open_job(task, **structured_by_role.get(job.role, {}))
        await world.engine.drain()
    return task.id


GOOD = {"reviewer": {"verdict": "APPROVE"}, "tester": {"tests_passed": True}}


# --- entering a stage ---------------------------------------------------------------


async def test_an_approved_task_gets_one_developer_job(world: World) -> None:
    task = await world.approved()

    await world.engine.drain()

    job = await world.open_job(task)
    assert job is not None
    assert (job.stage, job.role, job.repo, job.status) == (
        "development", "developer", "api", JobStatus.QUEUED)
    assert job.context.rollback_reason is None


async def test_open_lessons_go_into_the_job_context(world: World) -> None:
    world.lessons.lines = [f"lesson {i}" for i in range(8)]
    task = await world.approved()

    await world.engine.drain()

    job = await world.open_job(task)
    assert job is not None and job.context.lessons == tuple(f"lesson {i}" for i in range(5))


async def test_a_failing_lessons_feed_costs_the_lessons_only(world: World) -> None:
    world.lessons.fail = True
    task = await world.approved()

    await world.engine.drain()

    job = await world.open_job(task)
    assert job is not None and job.context.lessons == ()


async def test_a_stage_whose_role_has_no_agent_blocks_the_task(tmp_path: Path) -> None:
    world = World(tmp_path, settings=settings_for(agents={}))
    task = await world.approved()

    await world.engine.drain()

    task = await world.task(task.id)
    assert task.stage == BLOCKED
    assert task.reason == "no agent is configured for the developer role (add agents.developer)"
    assert await world.open_job(task) is None


async def test_unknown_gate_names_stop_start_up(world: World) -> None:
    pipeline = Pipeline((StageSpec("queued"), StageSpec("x", gates=("vibes",)),
                         StageSpec("done")))
    service = PipelineService(world.tasks, pipeline, world.clock, world.hub)

    with pytest.raises(ConfigError, match="unknown gate 'vibes'"):
        StageEngine(service, world.jobs, world.settings, world.clock)


# --- success, gates, advance --------------------------------------------------------


async def test_a_succeeded_job_advances_and_the_next_role_is_queued(world: World) -> None:
    task = await world.approved()
    await world.engine.drain()

    await world.finish_open_job(task)
    await world.engine.drain()

    task = await world.task(task.id)
    job = await world.open_job(task)
    assert task.stage == "review"
    assert job is not None and (job.stage, job.role) == ("review", "reviewer")


async def test_merge_has_no_role_and_is_passed_through(world: World) -> None:
    task_id = await at_stage(world, "deploy", **GOOD)

    stages = world.stages(await world.task(task_id))
    assert stages[-2:] == ["merge", "deploy"]


async def test_a_failing_gate_rolls_back_with_its_reason_for_the_next_job(world: World) -> None:
    task_id = await at_stage(world, "review", **GOOD)
    task = await world.task(task_id)

    await world.finish_open_job(task, verdict="REQUEST_CHANGES", summary="add a test")
    await world.engine.drain()

    task = await world.task(task_id)
    assert task.stage == "development"
    reason = "review_approved: review requested changes: add a test"
    assert task.reason == reason
    job = await world.open_job(task)
    assert job is not None and job.context.rollback_reason == reason
    assert world.lessons.gate_failures == [
        (task.key, "review", "review_approved", "review requested changes: add a test")]


async def test_a_job_from_before_the_rollback_does_not_count(world: World) -> None:
    task_id = await at_stage(world, "review", **GOOD)
    await world.finish_open_job(await world.task(task_id), verdict="REQUEST_CHANGES")
    await world.engine.drain()

    # back in development: the earlier, succeeded developer job must not advance it
    task = await world.task(task_id)
    job = await world.open_job(task)
    assert task.stage == "development"
    assert job is not None and job.status is JobStatus.QUEUED


async def test_a_failing_hook_never_breaks_the_engine(world: World) -> None:
    world.lessons.fail = True
    task_id = await at_stage(world, "testing", **GOOD)

    await world.finish_open_job(await world.task(task_id), tests_passed=False)
    await world.engine.drain()

    assert (await world.task(task_id)).stage == "development"
    assert len(world.lessons.gate_failures) == 1


async def test_deploy_waits_for_approval_after_its_job_and_approve_finishes(
        world: World) -> None:
    task_id = await at_stage(world, "deploy", **GOOD)
    await world.finish_open_job(await world.task(task_id))
    await world.engine.drain()
    assert (await world.task(task_id)).stage == "deploy"

    await world.pipeline.approve(task_id, LEAD)
    await world.engine.drain()

    assert (await world.task(task_id)).stage == DONE
    assert world.kinds()[-1] is ChangeKind.DONE


# --- failures -----------------------------------------------------------------------


async def test_a_transient_failure_is_retried_later_then_blocks_once(world: World) -> None:
    task = await world.approved()
    await world.engine.drain()
    await world.finish_open_job(task, RunOutcome.TRANSIENT)
    await world.engine.drain()

    job = await world.open_job(task)
    assert job is not None and job.transient_attempts == 1
    assert job.not_before > world.clock.now()
    assert (await world.task(task.id)).stage == "development"

    for _ in range(2):
        world.clock.advance(3600)
        await world.finish_open_job(task, RunOutcome.TRANSIENT)
        await world.engine.drain()

    task = await world.task(task.id)
    assert task.stage == BLOCKED
    assert task.reason == "transient on purpose (3 of 3 tries)"
    assert world.kinds(task).count(ChangeKind.FAILED) == 1
    assert world.lessons.retries_spent == [(task.key, "development", task.reason)]


async def test_a_permanent_failure_rolls_back_where_the_stage_says(world: World) -> None:
    task_id = await at_stage(world, "testing", **GOOD)

    await world.finish_open_job(await world.task(task_id), RunOutcome.FAILED)
    await world.engine.drain()

    task = await world.task(task_id)
    assert (task.stage, task.reason) == ("development", "tester failed: failed on purpose")


async def test_a_permanent_failure_without_a_rollback_target_blocks(world: World) -> None:
    task = await world.approved()
    await world.engine.drain()

    await world.finish_open_job(task, RunOutcome.FAILED)
    await world.engine.drain()

    task = await world.task(task.id)
    assert (task.stage, task.blocked_from) == (BLOCKED, "development")
    assert world.kinds(task)[-1] is ChangeKind.FAILED
    job = await world.jobs.latest_job(task.id, "development")
    assert job is not None and job.failure is Failure.PERMANENT


async def test_retry_unblocks_and_queues_a_fresh_job(world: World) -> None:
    task = await world.approved()
    await world.engine.drain()
    await world.finish_open_job(task, RunOutcome.FAILED)
    await world.engine.drain()

    task = await world.engine.retry(task.id, LEAD)

    job = await world.open_job(task)
    assert task.stage == "development"
    assert job is not None and (job.status, job.transient_attempts) == (JobStatus.QUEUED, 0)


async def test_retry_refuses_a_task_that_is_not_blocked(world: World) -> None:
    task = await world.approved()

    with pytest.raises(IllegalTransition):
        await world.engine.retry(task.id, LEAD)


async def test_blocking_by_hand_withdraws_the_queued_job(world: World) -> None:
    task = await world.approved()
    await world.engine.drain()

    await world.pipeline.block(task.id, LEAD, "wait for the design")
    await world.engine.drain()

    job = await world.jobs.latest_job(task.id, "development")
    assert job is not None and job.status is JobStatus.CANCELLED


# --- idempotence --------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["development", "review", "deploy", "blocked"])
async def test_syncing_an_unchanged_task_changes_and_tells_nothing(
        world: World, stage: str) -> None:
    if stage == "blocked":
        task = await world.approved()
        await world.engine.drain()
        await world.finish_open_job(task, RunOutcome.FAILED)
        task_id = task.id
    else:
        task_id = await at_stage(world, stage, **GOOD)
    if stage == "deploy":  # the job done, waiting for a person
        await world.finish_open_job(await world.task(task_id))
    await world.engine.drain()
    before = (await world.task(task_id), len(world.notifier.published),
              await world.jobs.latest_job(task_id, stage), len(world.jobs._jobs))

    for _ in range(3):
        await world.engine.sync(task_id)
        await world.engine.sync_all()

    after = (await world.task(task_id), len(world.notifier.published),
             await world.jobs.latest_job(task_id, stage), len(world.jobs._jobs))
    assert after == before


async def test_a_whole_task_flows_to_done_with_one_event_per_move(world: World) -> None:
    task_id = await at_stage(world, "deploy", **GOOD)
    await world.finish_open_job(await world.task(task_id))
    await world.engine.drain()
    await world.pipeline.approve(task_id, LEAD)
    await world.engine.drain()

    task = await world.task(task_id)
    assert world.stages(task) == [
        "queued", "development", "review", "testing", "merge", "deploy", "done"]
