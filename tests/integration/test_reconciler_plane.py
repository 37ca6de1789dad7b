"""The reconciler with a real PlaneClient against the Plane emulator over HTTP on
127.0.0.1, and SQLite underneath: the start case, write-back with Plane's 409 twin,
deletions, restarts, the rate limit and a 429 waited out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.config import DEFAULT_STATE_NAMES
from core.pipeline.tasks import Actor
from core.sync.config import SyncConfig
from tests.plane_rig import Rig, plane_rig
from tests.plane_support import KEY

LEAD = Actor("telegram", "7", "Lead")


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with plane_rig(tmp_path) as made:
        yield made


async def test_approved_item_starts_and_plane_moves_reach_the_task_once(rig: Rig) -> None:
    reconciler = rig.reconciler()
    rig.emulator.add_item("ORCH", "Add retry", state="Approved",
                          description_html="<p>Retry <em>twice</em></p>")
    await reconciler.tick()
    task = await rig.pipeline.find("ORCH-1")
    assert (task.stage, task.repo, task.description) == ("development", "orch", "Retry twice")
    assert rig.state_of("ORCH-1") == "In Progress"  # written back
    assert rig.comments_on("ORCH-1") == ["orch-1-v2"]

    for state in ("Blocked", "In Progress", "Done"):
        rig.emulator.move_item("ORCH-1", state)
        for _ in range(3):
            rig.clock.advance(120)
            await reconciler.tick()

    assert rig.pushes() == ["ORCH-1 blocked", "ORCH-1 unblocked", "ORCH-1 done"]
    assert rig.state_of("ORCH-1") == "Done" and rig.comments_on("ORCH-1") == ["orch-1-v2"]


async def test_writeback_is_idempotent_and_never_echoes(rig: Rig) -> None:
    reconciler = rig.reconciler()
    rig.emulator.add_item("ORCH", "Ship it", state="Approved")
    await reconciler.tick()
    task = await rig.pipeline.find("ORCH-1")
    await rig.pipeline.advance(task.id, LEAD)  # development → review
    await reconciler.tick()
    assert rig.state_of("ORCH-1") == "In Review"
    patches = rig.emulator.stats.by_route["PATCH work-item"]

    event, moved = next((e, t) for e, t in rig.notifier.published if e.version == 3)
    reconciler.writeback.publish(event, moved)  # the same write-back once more (a replay)
    reports = [await reconciler.tick() for _ in range(3)]

    assert rig.comments_on("ORCH-1") == ["orch-1-v2", "orch-1-v3"]
    assert rig.emulator.stats.by_route["POST comments"] == 2  # the replay is the same row
    assert rig.emulator.stats.by_route["PATCH work-item"] == patches  # already there
    assert all(r.changes == () for r in reports)
    assert (await rig.pipeline.find("ORCH-1")).stage == "review"


async def test_a_deleted_item_cancels_its_task_on_the_second_full_resync(rig: Rig) -> None:
    reconciler = rig.reconciler()
    rig.emulator.add_item("ORCH", "Soon gone", state="Approved")
    rig.emulator.add_item("ORCH", "Stays")
    await reconciler.tick()
    rig.emulator.delete_item("ORCH-1")
    rig.clock.advance(3600)
    first = await reconciler.tick()
    assert first.full and first.missing == 1
    assert (await rig.pipeline.find("ORCH-1")).stage == "development"
    rig.clock.advance(3600)
    second = await reconciler.tick()
    task = await rig.pipeline.find("ORCH-1")
    assert second.full and task.stage == "cancelled"
    assert task.reason == "ORCH-1 was deleted in Plane (absent and 404 on two full resyncs)"
    rig.clock.advance(3600)
    await reconciler.tick()
    assert rig.pushes() == ["ORCH-1 cancelled"]


async def test_a_restart_on_the_same_database_repeats_nothing(rig: Rig) -> None:
    names = {**DEFAULT_STATE_NAMES, "approved": "Done"}  # ET-002's aliasing
    first = rig.reconciler(names=names)
    rig.emulator.add_item("ORCH", "Shipped", state="Done")
    rig.emulator.add_item("ORCH", "Running", state="In Progress")
    for _ in range(10):
        rig.clock.advance(120)
        await first.tick()
    second = rig.reconciler(names=names)
    for _ in range(10):
        rig.clock.advance(120)
        await second.tick()
    assert rig.notifier.published == []
    assert second.stats.skipped_terminal_total >= 1


async def test_a_tick_larger_than_one_page_stays_within_the_budget(rig: Rig) -> None:
    rig.emulator.rate_limit_per_min = 5
    for n in range(250):
        rig.emulator.add_item("ORCH", f"item {n}")
    config = SyncConfig(full_page_size=50, page_size=50)
    reconciler = rig.reconciler(budget=5, config=config)

    report = await reconciler.tick()

    assert report.errors == 0 and report.items_seen == 250
    assert rig.emulator.stats.rate_limited == 0
    assert rig.emulator.window(KEY).peak <= 5
    assert report.api_calls >= 7 and report.rate_limit_waits >= 1  # it waited, on the clock


async def test_a_429_is_waited_out_not_retried_in_a_hot_loop(rig: Rig) -> None:
    rig.emulator.rate_limit_per_min = 10
    rig.emulator.add_item("ORCH", "Waiting", state="Approved")
    reconciler = rig.reconciler(budget=100)  # our budget thinks there is room
    rig.emulator.spend_budget(10)  # someone else with the same key used it all

    report = await reconciler.tick()

    assert report.errors == 0 and [c.what for c in report.changes] == ["created"]
    assert 1 <= rig.emulator.stats.rate_limited <= 2
    assert report.rate_limit_waits >= 1
    assert min(s for s in rig.clock.slept if s > 5) >= 30  # Retry-After, not a spin
    assert (await rig.pipeline.find("ORCH-1")).stage == "development"
