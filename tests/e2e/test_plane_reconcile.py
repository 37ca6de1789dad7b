"""Plane, orch and the team's Telegram group together: the Plane emulator and the Telegram
emulator on 127.0.0.1, orch started by `app.runtime.running`, the Plane sync built the
way the runtime builds it and ticked by the test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import pytest

from app.scheduler import scheduler_of
from app.tracker_sync import JOB_NAME, TrackerSync, build_tracker_sync, pace_tracker
from core.errors import UnknownTask
from sandbox.plane import PlaneEmulator, serve_emulator
from sandbox.plane_team import PlaneStep, plane_morning, play, seed_team_project
from sandbox.team import Team

PLANE_KEY = "plane-e2e-key"
INTERVAL_S = 120.0


@dataclass
class Stage:
    team: Team
    plane: PlaneEmulator
    sync: TrackerSync

    async def reconcile(self, ticks: int = 1) -> None:
        """Scheduled ticks, then the chat catches up."""
        for _ in range(ticks):
            self.team.clock.advance(INTERVAL_S)
            await self.sync.reconciler.tick()
        await self.team.settle()

    def state_of(self, key: str) -> str:
        return self.plane.states[self.plane.item(key).state_id].name

    def pushes(self) -> list[str]:
        return [m["plain_text"] for m in self.team.bot_messages()
                if "since" not in m["plain_text"] and not m.get("reply_to_message_id")]


@pytest.fixture
async def stage(team: Team) -> AsyncIterator[Stage]:
    plane = PlaneEmulator(team.clock, PLANE_KEY, "acme")
    seed_team_project(plane, "ORCH")
    async with serve_emulator(plane) as url:
        orch = team.orch
        settings = replace(orch.settings, plane_api_url=url, plane_api_token=PLANE_KEY,
                           plane_workspace_slug="acme")
        sync = build_tracker_sync(settings, team.clock, orch.db, orch.pipeline, orch.hub,
                                  orch.queue)
        try:
            yield Stage(team, plane, sync)
        finally:
            await sync.aclose()


async def test_an_approved_item_becomes_a_card_and_a_plane_block_one_push(stage: Stage) -> None:
    team = stage.team
    stage.plane.add_item("ORCH", "Add retry to the webhook sender", state="Todo")
    stage.plane.move_item("ORCH-1", "Approved")
    await stage.reconcile()

    card = await team.card("ORCH-1")
    assert "development" in card["plain_text"] and "Add retry" in card["plain_text"]
    assert len(team.bot_messages()) == 1 and team.orch.notifier.stats.pushes == 0
    assert stage.state_of("ORCH-1") == "In Progress"  # the start is written back

    stage.plane.move_item("ORCH-1", "Blocked")
    await stage.reconcile(ticks=5)

    assert team.orch.notifier.stats.pushes == 1
    assert stage.pushes() == ["⛔ ORCH-1 blocked: moved to Blocked in Plane by Alice"]
    edited = await team.card("ORCH-1")
    assert edited["message_id"] == card["message_id"] and "blocked" in edited["plain_text"]
    assert stage.state_of("ORCH-1") == "Blocked"

    stage.plane.move_item("ORCH-1", "In Progress")
    await stage.reconcile(ticks=5)
    assert team.orch.notifier.stats.pushes == 2
    assert stage.pushes()[-1].startswith("✅ ORCH-1 unblocked")

    reply = await team.say("/queue")
    assert "reconcile" in reply["plain_text"] and "skipped terminal" in reply["plain_text"]


async def test_the_demo_morning_in_plane_reaches_the_group(stage: Stage) -> None:
    said: list[str] = []

    async def catch_up(step: PlaneStep) -> None:
        said.append(f"{step.who} {step.says}")
        await stage.reconcile()

    await play(stage.plane, plane_morning("ORCH"), catch_up)
    await stage.reconcile(ticks=3)

    pipeline = stage.team.orch.pipeline
    assert (await pipeline.find("ORCH-1")).stage == "done"
    assert (await pipeline.find("ORCH-2")).stage == "development"
    with pytest.raises(UnknownTask):  # cancelled before it was a task
        await pipeline.find("ORCH-3")
    assert [p.split(":")[0] for p in stage.pushes()] == [
        "⛔ ORCH-2 blocked", "✅ ORCH-2 unblocked (moved to In Progress in Plane by Alice)",
        "🏁 ORCH-1 done"]
    assert len(said) == len(plane_morning("ORCH"))
    assert stage.sync.reconciler.stats.skipped_terminal_total >= 1


async def test_the_tick_is_paced_on_ptbs_job_queue_without_overlap(stage: Stage) -> None:
    app = stage.team.orch.app
    assert app.job_queue is not None
    pacers = pace_tracker(stage.sync, scheduler_of(app), 3600.0)
    try:
        [job] = app.job_queue.get_jobs_by_name(JOB_NAME)
        assert (job.job.max_instances, job.job.coalesce) == (1, True)
        assert [p.name for p in pacers] == ["plane-work", JOB_NAME]
        assert stage.sync.reconciler.wake == pacers[0].poke
    finally:
        for job in app.job_queue.jobs():
            if job.name.startswith(("plane-", JOB_NAME)):
                job.schedule_removal()
