"""Write-back converges: orch is killed (SIGKILL, a real process) in the middle of a
burst of approvals, after its tasks moved and before it told Plane; the next full
resync compares what each task means with what Plane shows and repairs it, once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.orch_process import until
from tests.plane_faults import Faults, fault_proxy
from tests.plane_rig import plane_rig

ROOT = Path(__file__).resolve().parents[2]
ITEMS = 10
KILL_AT = 6  # the 6th relations read never returns: the child is killed there
HANG_GUARD_S = 60.0


async def test_a_write_back_lost_to_a_kill_is_repaired_by_the_next_full_resync(
        tmp_path: Path) -> None:
    async with plane_rig(tmp_path) as rig:
        for n in range(ITEMS):
            rig.emulator.add_item("ORCH", f"burst {n}", state="Approved")
        faults = Faults(hang_relations_after=KILL_AT - 1)
        async with fault_proxy(rig.url, faults) as url:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.crash_child", url, str(tmp_path / "orch.db"),
                cwd=ROOT, env={**os.environ})
            await until(lambda: faults.seen["GET relations"] >= KILL_AT, within=HANG_GUARD_S,
                        what="the hung read")
            child.send_signal(signal.SIGKILL)
            assert await child.wait() == -signal.SIGKILL
            faults.released.set()

        moved = [t.key for t in await rig.pipeline.open_tasks() if t.stage == "development"]
        assert len(moved) == KILL_AT  # their tasks moved; Plane was never told
        assert all(rig.state_of(key) == "Approved" for key in moved)

        reconciler = rig.reconciler()  # the restart
        # the killed tick never finished its walk, so the first tick is a full resync
        report = await reconciler.tick()

        assert report.full and report.errors == 0
        assert all(rig.state_of(f"ORCH-{n}") == "In Progress" for n in range(1, ITEMS + 1))
        for key in moved:
            task = await rig.pipeline.find(key)
            assert rig.comments_on(key) == [f"orch-{task.id}-v2"]  # told once
        assert reconciler.writeback.stats.repairs == KILL_AT
