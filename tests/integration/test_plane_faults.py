"""Fault injection: a stand-in in front of the Plane emulator breaks Plane the ways a
real server (or a key that lost access) does, and each test asserts exactly what may
change (nothing, or one "missing" mark) and that the tick ends.

The scene: five approved items whose tasks are in development, two items orch does not
follow, every write-back done, a full resync behind it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from core.sync.reconciler import Reconciler
from core.sync.report import TickReport
from tests.plane_faults import Faults, fault_proxy
from tests.plane_rig import Rig, plane_rig

KEYS = [f"ORCH-{n}" for n in range(1, 6)]
HANG_GUARD_S = 60  # not a speed target: a tick that never ends fails instead of hanging


@dataclass
class Scene:
    rig: Rig
    faults: Faults
    reconciler: Reconciler

    async def tick(self, *, full: bool = False) -> TickReport:
        self.rig.clock.advance(120)
        return await asyncio.wait_for(self.reconciler.tick(full=full), HANG_GUARD_S)

    async def picture(self) -> dict[str, object]:
        """Everything a fault must not change."""
        tasks = {k: ((t := await self.rig.pipeline.find(k)).stage, t.version) for k in KEYS}
        states = {k: self.rig.state_of(k) for k in [*KEYS, "ORCH-6", "ORCH-7"]}
        return {"tasks": tasks, "states": states, "pushes": self.rig.pushes(),
                "events": len(self.rig.notifier.published)}

    async def marks(self) -> list[str]:
        return [r.key for r in await self.reconciler._store.missing()]

    async def queue_text(self) -> str:
        return "\n".join((await self.reconciler.queue_block()).lines)


@pytest.fixture
async def scene(tmp_path: Path) -> AsyncIterator[Scene]:
    async with plane_rig(tmp_path) as rig:
        faults = Faults()
        async with fault_proxy(rig.url, faults) as url:
            proxied = replace(rig, url=url)
            reconciler = proxied.reconciler()
            for n in range(5):
                rig.emulator.add_item("ORCH", f"task {n}", state="Approved")
            rig.emulator.add_item("ORCH", "not followed")
            rig.emulator.add_item("ORCH", "not followed either", state="In Progress")
            made = Scene(proxied, faults, reconciler)
            await made.tick()
            await made.tick()
            await made.tick(full=True)
            assert all(rig.state_of(k) == "In Progress" for k in KEYS)
            assert await made.marks() == []
            faults.seen.clear()
            yield made


async def test_a_404_on_one_item_marks_it_missing_and_changes_nothing_else(scene: Scene) -> None:
    before = await scene.picture()
    item = scene.rig.emulator.item("ORCH-2")
    scene.faults.missing_items = {item.id}

    report = await asyncio.wait_for(
        scene.reconciler.reconcile_item(item.project_id, item.id), HANG_GUARD_S)
    full = await scene.tick(full=True)  # listed, though 404 on a read: present

    assert report.missing == 1 and report.changes == ()
    assert full.changes == () and full.missing == 0
    assert await scene.picture() == before
    assert await scene.marks() == []  # the listing saw it again: the mark is gone


async def test_a_404_mark_is_shown_until_the_item_is_seen_again(scene: Scene) -> None:
    item = scene.rig.emulator.item("ORCH-2")
    scene.faults.missing_items = {item.id}
    await scene.reconciler.reconcile_item(item.project_id, item.id)
    assert await scene.marks() == ["ORCH-2"]
    assert "missing in Plane: ORCH-2" in await scene.queue_text()
    task = await scene.rig.pipeline.find("ORCH-2")
    assert (await scene.reconciler.card_note(task) or "").startswith("⚠️ missing in Plane")


async def test_an_empty_listing_with_404s_in_a_full_resync_changes_nothing(scene: Scene) -> None:
    before = await scene.picture()
    scene.faults.empty_listing = True
    scene.faults.missing_items = {scene.rig.emulator.item(k).id for k in KEYS}

    reports = [await scene.tick(full=True) for _ in range(3)]

    assert await scene.picture() == before
    assert await scene.marks() == []
    assert all(r.errors == 1 and "empty listing" in (r.last_error or "") for r in reports)
    assert scene.faults.seen["item"] == 0  # nothing to conclude, so nothing to read


@pytest.mark.parametrize("status", [401, 403])
async def test_lost_access_is_never_deletion(scene: Scene, status: int) -> None:
    before = await scene.picture()
    scene.faults.auth_status = status

    reports = [await scene.tick(full=True) for _ in range(3)]

    assert await scene.picture() == before
    assert await scene.marks() == []
    assert all(r.errors >= 1 and r.changes == () for r in reports)
    assert f"lost access to Plane: {status}" in await scene.queue_text()
    scene.faults.auth_status = None
    assert (await scene.tick()).errors == 0
    assert "lost access" not in await scene.queue_text()


async def test_retry_after_300_pauses_every_call_and_the_queue_says_so(scene: Scene) -> None:
    before = await scene.picture()
    scene.faults.retry_after = 300
    first = await scene.tick()
    refused = scene.faults.faulted

    paused = [await scene.tick() for _ in range(2)]  # 240 s later: still inside the 300 s

    assert first.errors == 1 and refused == 1  # one 429, not one per retry
    assert scene.faults.faulted == refused  # no call at all while paused
    assert all(r.rate_paused and r.api_calls == 0 for r in paused)
    assert "sync paused until" in await scene.queue_text()
    scene.faults.retry_after = None
    resumed = await scene.tick()
    assert not resumed.rate_paused and resumed.errors == 0
    assert await scene.picture() == before


async def test_a_repeating_cursor_ends_the_tick_with_a_counted_error(scene: Scene) -> None:
    before = await scene.picture()
    scene.faults.repeat_cursor = True

    report = await scene.tick(full=True)

    assert report.errors == 1 and "repeated its cursor" in (report.last_error or "")
    assert scene.faults.seen["listing"] <= 3  # not the whole budget
    assert await scene.picture() == before
    assert await scene.marks() == []


async def test_a_50000_item_page_ends_the_tick_with_a_counted_error(scene: Scene) -> None:
    before = await scene.picture()
    scene.faults.huge_page = 50_000

    report = await scene.tick(full=True)

    assert report.errors == 1 and "50000 work items" in (report.last_error or "")
    assert report.items_seen == 0
    assert await scene.picture() == before
    assert await scene.marks() == []
