"""The job loop over in-memory stores with scripted agents: claims, slots, the
dependency gate, worktree trouble, stops and sweeps."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from core.jobs.agents import RunOutcome
from core.jobs.model import RESTARTED, JobStatus, RunStatus
from core.pacer import Pacer
from core.pipeline.stages import BLOCKED, DONE
from core.pipeline.tasks import ChangeKind
from tests.fakes import ManualScheduler
from tests.pipeline_world import LEAD, World, settings_for

GOOD = {"reviewer": {"verdict": "APPROVE"}, "tester": {"tests_passed": True}}


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def script_good(world: World, times: int = 5) -> None:
    for _ in range(times):
        world.runner.then("reviewer", RunOutcome.SUCCEEDED, verdict="APPROVE")
        world.runner.then("tester", RunOutcome.SUCCEEDED, tests_passed=True)


async def test_a_tick_claims_up_to_the_concurrency_limit(world: World) -> None:
    world.runner.hold = asyncio.Event()
    for n in range(3):
        await world.approved(f"task {n}")

    report = await world.loop.tick()

    assert (report.synced, report.claimed, world.loop.in_flight) == (3, 2, 2)
    world.runner.hold.set()
    await world.loop.wait_idle()
    assert [r.task_key for r in world.runner.requests] == ["ORCH-1", "ORCH-2"]


async def test_jobs_are_claimed_oldest_first(world: World) -> None:
    world = World(world.tmp, settings=settings_for(max_concurrency=1))
    for n in range(3):
        await world.approved(f"task {n}")
        world.clock.advance(1)

    for _ in range(3):
        await world.loop.run_once()

    assert [r.task_key for r in world.runner.requests] == ["ORCH-1", "ORCH-2", "ORCH-3"]


async def test_a_waiting_task_never_holds_a_slot(world: World) -> None:
    world = World(world.tmp, settings=settings_for(max_concurrency=1))
    first = await world.approved("A")
    await world.pipeline.block(first.id, LEAD, "parked")  # A stays unfinished
    blocked_b = await world.approved("B")
    await world.deps.declare(blocked_b.key, first.key)
    other = await world.approved("C")

    await world.loop.run_once()

    assert [r.task_key for r in world.runner.requests] == [other.key]
    job = await world.open_job(blocked_b)
    assert job is not None and job.status is JobStatus.QUEUED


async def test_the_last_dependency_done_releases_the_task_once(world: World) -> None:
    script_good(world)
    a = await world.approved("A")
    b = await world.approved("B")
    await world.deps.declare(b.key, a.key)

    await world.loop.settle()
    assert [(await world.task(t.id)).stage for t in (a, b)] == ["merge", "development"]
    await world.approve(a.id)  # a person approves the deploy, in merge
    await world.loop.settle()
    assert (await world.task(b.id)).stage == "merge"
    await world.approve(b.id)
    await world.loop.settle()

    assert (await world.task(a.id)).stage == DONE
    assert (await world.task(b.id)).stage == DONE
    released = [(e, t) for e, t in world.notifier.published if e.kind is ChangeKind.DEPS_RELEASED]
    assert [(t.key, e.reason) for e, t in released] == [(b.key, f"{a.key} done")]
    # B's agents only ran after A was done
    keys = [r.task_key for r in world.runner.requests]
    assert keys.index(b.key) > max(i for i, k in enumerate(keys) if k == a.key)


async def test_a_full_run_through_the_pipeline(world: World) -> None:
    script_good(world)
    task = await world.approved()

    await world.loop.settle()
    waiting = await world.task(task.id)
    assert waiting.stage == "merge"  # the deploy waits for a person; nobody works in merge
    assert world.runner.roles() == ["developer", "reviewer", "tester"]
    assert await world.open_job(waiting) is None
    assert (await world.loop.run_once()).quiet

    await world.approve(task.id)
    await world.loop.settle()

    assert world.runner.roles() == ["developer", "reviewer", "tester", "deployer"]
    assert world.stages(task) == [
        "queued", "development", "review", "testing", "merge", "deploy", "done"]
    assert world.kinds(task)[-3:] == [ChangeKind.APPROVED, ChangeKind.ADVANCED, ChangeKind.DONE]


async def test_a_worktree_that_cannot_be_made_is_a_transient_failure(world: World) -> None:
    world.worktrees.fail_with = OSError("disk full")
    task = await world.approved()

    await world.loop.run_once()
    await world.loop.run_once()

    job = await world.open_job(task)
    assert job is not None and job.transient_attempts == 1
    runs = await world.jobs.runs_of(job.id)
    assert [(r.status, r.error) for r in runs] == [
        (RunStatus.FAILED, "could not prepare the worktree: disk full")]
    assert world.runner.requests == []


async def test_a_job_whose_role_has_no_agent_blocks_its_task(world: World) -> None:
    task = await world.approved()
    await world.engine.drain()  # queued while the agent was still configured
    world.loop._settings = replace(world.settings, agents={})

    await world.loop.run_once()

    task = await world.task(task.id)
    assert (task.stage, task.reason) == (
        BLOCKED, "no agent is configured for the developer role (add agents.developer)")


async def test_the_agent_gets_the_prompt_with_the_rollback_reason(world: World) -> None:
    world.runner.then("reviewer", RunOutcome.SUCCEEDED, verdict="REQUEST_CHANGES",
                      summary="name the constant")
    await world.approved()

    for _ in range(3):
        await world.loop.run_once()

    again = world.runner.requests[-1]
    assert (again.role, again.attempt) == ("developer", 1)
    assert "review requested changes: name the constant" in again.prompt
    assert again.log_path == world.tmp / "logs" / f"run-{again.run_id}.log"


async def test_stopping_leaves_the_run_open_and_a_new_loop_sweeps_it_once(
        world: World) -> None:
    world.runner.hold = asyncio.Event()
    task = await world.approved()
    await world.loop.tick()
    await world.runner.started.wait()

    await world.loop.stop()

    run = await world.jobs.find_open_run(task.id, "development")
    assert run is not None and run.status is RunStatus.RUNNING
    later = world.new_loop(owner="test-host:2:bbbb")
    later._is_alive = lambda owner: owner != world.loop.owner
    world.runner.hold.set()
    await later.start()
    assert await later.sweep() == 0
    swept = await world.jobs.get_run(run.id)
    assert swept is not None and (swept.status, swept.error) == (RunStatus.FAILED, RESTARTED)
    job = await world.open_job(task)
    assert job is not None and (job.status, job.attempts) == (JobStatus.QUEUED, 1)

    await later.run_once()

    assert (await world.task(task.id)).stage == "review"


async def test_a_live_owner_is_left_alone_until_its_runs_are_stale(world: World) -> None:
    world.runner.hold = asyncio.Event()
    task = await world.approved()
    await world.loop.tick()
    await world.runner.started.wait()
    await world.loop.stop()
    later = world.new_loop(owner="test-host:2:bbbb")  # thinks every owner is alive

    assert await later.sweep() == 0
    world.clock.advance(world.settings.run_stale_after_s + 1)
    assert await later.sweep() == 1
    assert await world.jobs.find_open_run(task.id, "development") is None


async def test_a_tick_survives_a_failing_store(world: World) -> None:
    await world.approved()

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database on fire")

    world.jobs.claim = broken  # type: ignore[method-assign]
    report = await world.loop.tick()

    assert report.claimed == 0 and world.loop.errors == 1


async def test_paced_it_ticks_on_news_and_stops_cleanly(world: World) -> None:
    scheduler = ManualScheduler()
    pacer = Pacer(scheduler, world.loop.tick, name="jobs", interval_s=60, first=world.loop.start)
    world.engine.wake = world.loop.wake = pacer.poke
    pacer.start()
    await scheduler.run_soon()
    assert world.runner.requests == []

    task = await world.approved()  # the approval's event pokes the pacer
    assert await scheduler.run_soon() == 1
    await world.runner.started.wait()

    await world.loop.stop()
    assert world.runner.requests[0].task_key == task.key
    assert pacer.errors == 0 and "jobs" in scheduler.periodic
