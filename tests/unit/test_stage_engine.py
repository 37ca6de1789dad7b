"""The stage engine over in-memory stores: what it enqueues, when it moves, and that
running it again on an unchanged task changes nothing and tells nobody."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError, IllegalTransition
from core.jobs.agents import RunOutcome
from core.jobs.config import JobsConfig
from core.jobs.engine import StageEngine
from core.jobs.model import Failure, JobStatus
from core.pipeline.service import PipelineService
from core.pipeline.stages import BLOCKED, DONE, HUMAN_APPROVAL, Pipeline, StageSpec
from core.pipeline.tasks import ChangeKind
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
        StageEngine(service, world.jobs, JobsConfig.from_settings(world.settings),
                    world.clock)


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


async def test_merge_has_no_role_and_waits_for_approval_then_deploy_runs(
        world: World) -> None:
    task_id = await at_stage(world, "merge", **GOOD)
    task = await world.task(task_id)
    assert world.kinds(task)[-1] is ChangeKind.NEEDS_APPROVAL
    assert await world.open_job(task) is None  # nobody works in merge
    assert await world.jobs.latest_job(task_id, "merge") is None

    await world.engine.sync_all()
    await world.engine.drain()
    assert (await world.task(task_id)) == task  # waiting changes nothing

    approved = await world.approve(task_id)
    assert (approved.stage, approved.version) == ("merge", task.version + 1)  # in place
    await world.engine.drain()

    task = await world.task(task_id)
    job = await world.open_job(task)
    assert task.stage == "deploy"
    assert job is not None and (job.stage, job.role, job.status) == (
        "deploy", "deployer", JobStatus.QUEUED)
    assert world.kinds(task)[-2:] == [ChangeKind.APPROVED, ChangeKind.ADVANCED]

    await world.finish_open_job(task)
    await world.engine.drain()

    task = await world.task(task_id)
    assert task.stage == DONE
    assert world.stages(task)[-3:] == ["merge", "deploy", "done"]
    deploy = await world.jobs.latest_job(task_id, "deploy")
    assert deploy is not None and deploy.status is JobStatus.SUCCEEDED


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


# A stage with both a role and a person's approval (not in the default pipeline).
GUARDED = Pipeline((
    StageSpec("queued"),
    StageSpec("development", role="developer"),
    StageSpec("deploy", role="deployer", gates=(HUMAN_APPROVAL,), rollback_to="development"),
    StageSpec("done"),
))


@pytest.fixture
def guarded(tmp_path: Path) -> World:
    return World(tmp_path, flow=GUARDED)


async def test_a_stage_with_a_role_and_approval_waits_after_its_job(guarded: World) -> None:
    world = guarded
    task_id = await at_stage(world, "deploy")
    assert world.kinds(await world.task(task_id))[-1] is ChangeKind.NEEDS_APPROVAL
    await world.finish_open_job(await world.task(task_id))
    await world.engine.drain()
    await world.engine.sync_all()

    task = await world.task(task_id)
    job = await world.jobs.latest_job(task_id, "deploy")
    assert task.stage == "deploy"
    assert job is not None and job.status is JobStatus.SUCCEEDED
    assert await world.open_job(task) is None  # the job is not run again while waiting

    await world.approve(task_id)
    await world.engine.drain()

    task = await world.task(task_id)
    assert task.stage == DONE
    assert world.kinds(task)[-2:] == [ChangeKind.APPROVED, ChangeKind.DONE]
    assert await world.jobs.latest_job(task_id, "deploy") == job  # still that one job


@pytest.mark.parametrize("job_state", ["queued", "running"])
async def test_an_approval_before_the_job_finished_does_not_skip_the_job(
        guarded: World, job_state: str) -> None:
    world = guarded
    task_id = await at_stage(world, "deploy")
    task = await world.task(task_id)
    job = await world.open_job(task)
    assert job is not None and job.role == "deployer"
    claim = await world.claim_open_job(task) if job_state == "running" else None

    approved = await world.approve(task_id)
    await world.engine.drain()
    await world.engine.sync_all()

    task = await world.task(task_id)
    assert (task.stage, task.version) == ("deploy", approved.version)  # the job comes first
    waiting = await world.open_job(task)
    assert waiting is not None and waiting.id == job.id
    assert waiting.status is (JobStatus.RUNNING if claim else JobStatus.QUEUED)
    assert world.kinds(task)[-1] is ChangeKind.APPROVED

    if claim is None:
        await world.finish_open_job(task)
    else:
        await world.finish(claim)
    await world.engine.drain()

    task = await world.task(task_id)
    assert task.stage == DONE  # the approval given early still counts, once the job is done
    finished = await world.jobs.latest_job(task_id, "deploy")
    assert finished is not None and (finished.id, finished.status) == (job.id, JobStatus.SUCCEEDED)
    assert len(await world.jobs.runs_of(job.id)) == 1
    assert world.kinds(task)[-2:] == [ChangeKind.APPROVED, ChangeKind.DONE]


async def test_an_approval_does_not_outlive_its_stay_in_the_stage(guarded: World) -> None:
    world = guarded
    task_id = await at_stage(world, "deploy")
    await world.approve(task_id)
    await world.engine.drain()
    await world.finish_open_job(await world.task(task_id), RunOutcome.FAILED)
    await world.engine.drain()
    assert (await world.task(task_id)).stage == "development"  # rolled back

    await world.finish_open_job(await world.task(task_id))
    await world.engine.drain()
    await world.finish_open_job(await world.task(task_id))
    await world.engine.drain()

    task = await world.task(task_id)
    assert task.stage == "deploy"  # back again, the job done: it waits for a new approval
    assert await world.open_job(task) is None
    await world.approve(task_id)
    await world.engine.drain()
    assert (await world.task(task_id)).stage == DONE


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


@pytest.mark.parametrize("stage", ["development", "review", "merge", "blocked"])
async def test_syncing_an_unchanged_task_changes_and_tells_nothing(
        world: World, stage: str) -> None:
    if stage == "blocked":
        task = await world.approved()
        await world.engine.drain()
        await world.finish_open_job(task, RunOutcome.FAILED)
        task_id = task.id
    else:
        task_id = await at_stage(world, stage, **GOOD)
    await world.engine.drain()  # in merge: no job, waiting for a person
    before = (await world.task(task_id), len(world.notifier.published),
              await world.jobs.latest_job(task_id, stage), len(world.jobs._jobs))

    for _ in range(3):
        await world.engine.sync(task_id)
        await world.engine.sync_all()

    after = (await world.task(task_id), len(world.notifier.published),
             await world.jobs.latest_job(task_id, stage), len(world.jobs._jobs))
    assert after == before


async def test_a_whole_task_flows_to_done_with_one_event_per_move(world: World) -> None:
    task_id = await at_stage(world, "merge", **GOOD)
    await world.approve(task_id)
    await world.engine.drain()
    await world.finish_open_job(await world.task(task_id))
    await world.engine.drain()

    task = await world.task(task_id)
    trail = [(e.kind, e.from_stage, e.to_stage)
             for e, t in world.notifier.published if t.id == task.id]
    assert trail == [
        (ChangeKind.CREATED, None, "queued"),
        (ChangeKind.APPROVED, "queued", "development"),
        (ChangeKind.ADVANCED, "development", "review"),
        (ChangeKind.ADVANCED, "review", "testing"),
        (ChangeKind.NEEDS_APPROVAL, "testing", "merge"),
        (ChangeKind.APPROVED, "merge", "merge"),  # recorded in place
        (ChangeKind.ADVANCED, "merge", "deploy"),
        (ChangeKind.DONE, "deploy", "done"),
    ]
    assert world.stages(task) == [
        "queued", "development", "review", "testing", "merge", "deploy", "done"]
