"""What /queue says about jobs: running with their age, and why queued ones wait."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.jobs.agents import RunOutcome
from core.jobs.view import JobQueueView
from core.queue_view import QueueService
from tests.pipeline_world import World, settings_for


async def test_queue_explains_backoff_position_and_dependencies(tmp_path: Path) -> None:
    world = World(tmp_path, settings=settings_for(max_concurrency=1))
    world.runner.hold = asyncio.Event()
    running, flaky, second, waiting = [await world.approved(n) for n in "ABCD"]
    await world.deps.declare(waiting.key, running.key)
    await world.engine.drain()
    await world.finish_open_job(running, RunOutcome.TRANSIENT)  # A: retry later
    world.clock.advance(1)
    await world.loop.tick()  # B runs
    await world.runner.started.wait()
    world.clock.advance(20)  # the backoff of A is 30-60 s
    view = JobQueueView(world.jobs, world.settings, world.clock)
    queue = QueueService(world.pipeline, world.pipeline.stages, world.clock)
    queue.add_explainer(view)
    queue.add_explainer(world.deps)
    queue.add_source(view)

    snapshot = await queue.snapshot()

    why = {e.key: e.why for e in snapshot.waiting}
    job = await world.open_job(running)
    assert job is not None
    retry_at = job.not_before.strftime("%H:%M")
    assert why == {running.key: f"retry at {retry_at} (2/3)", second.key: "#1 in line",
                   waiting.key: f"waits for {running.key}"}
    block = snapshot.blocks[0]
    assert block.lines == (
        "1 running (max 1) · 3 queued · 1 wait for dependencies · 1 in backoff",
        f"{flaky.key} development (developer) · 0m · attempt 1")
    world.runner.hold.set()
    await world.loop.wait_idle()
