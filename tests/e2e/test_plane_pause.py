"""A mass disappearance in Plane, as the group lives it: the Plane and Telegram emulators
on 127.0.0.1, orch started by `app.runtime.running`, the sync wired into the chat the way
the runtime wires it. Four of five items vanish: one alert with a Confirm button, cards
marked, nothing cancelled; a press cancels what is still gone and the sync resumes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from app.tracker_sync import TrackerSync, build_tracker_sync, tell_the_chat
from sandbox.plane import PlaneEmulator, serve_emulator
from sandbox.plane_team import seed_team_project
from sandbox.team import Team

pytestmark = pytest.mark.e2e

PLANE_KEY = "plane-e2e-key"
KEYS = [f"ORCH-{n}" for n in range(1, 6)]


@pytest.fixture
async def synced(team: Team) -> AsyncIterator[tuple[Team, PlaneEmulator, TrackerSync]]:
    plane = PlaneEmulator(team.clock, PLANE_KEY, "acme")
    seed_team_project(plane, "ORCH")
    async with serve_emulator(plane) as url:
        orch = team.orch
        settings = replace(orch.settings, plane_api_url=url, plane_api_token=PLANE_KEY,
                           plane_workspace_slug="acme")
        sync = build_tracker_sync(settings, team.clock, orch.db, orch.pipeline, orch.hub,
                                  orch.queue)
        buttons = tell_the_chat(sync, orch.services, orch.notifier._renderer)
        orch.app.add_handlers(buttons, group=-2)  # installed after the catch-all: go first
        try:
            yield team, plane, sync
        finally:
            await sync.aclose()


async def test_a_mass_disappearance_waits_for_a_person_to_confirm(
        synced: tuple[Team, PlaneEmulator, TrackerSync]) -> None:
    team, plane, sync = synced
    for n in range(5):
        plane.add_item("ORCH", f"task {n}", state="Approved")
    plane.add_item("ORCH", "not followed")
    await sync.reconciler.tick()
    await team.settle()
    for key in KEYS[:4]:
        plane.delete_item(key)

    team.clock.advance(3600)
    await sync.reconciler.tick()
    await team.settle()

    alerts = [m for m in team.bot_messages() if m["plain_text"].startswith("⏸ ORCH")]
    assert len(alerts) == 1 and "4 of 5" in alerts[0]["plain_text"]
    assert [(await team.orch.pipeline.find(k)).stage for k in KEYS] == ["development"] * 5
    assert "missing in Plane" in (await team.card("ORCH-1"))["plain_text"]
    assert "sync paused" in (await team.say("/queue"))["plain_text"]
    view = await team.orch.queue.snapshot()  # every task of the project: this one reason
    whys = {e.key: e.why for line in view.stages for e in line.entries}
    assert [whys[k] for k in KEYS] == [
        "Plane sync paused for project ORCH: waiting for a person to confirm"] * 5

    answer = await team.press(alerts[0]["message_id"], team.buttons(alerts[0])["Confirm"])
    await team.settle()

    assert answer["text"] == "ORCH resumes; 4 tasks cancelled."
    stages = [(await team.orch.pipeline.find(k)).stage for k in KEYS]
    assert stages == ["cancelled"] * 4 + ["development"]
    assert len([m for m in team.bot_messages() if m["plain_text"].startswith("⏸")]) == 1
