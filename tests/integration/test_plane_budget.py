"""The request budget keeps a margin below Plane's own limit, follows what Plane says is
left, and outlives a restart: a 50-item burst against the emulator's per-key limit of 60
a minute gets no 429, before a restart and right after it."""

from __future__ import annotations

from pathlib import Path

from core.sync.config import SyncConfig
from storage.rate_budgets import SqliteBudgetStore
from tests.plane_rig import plane_rig
from tests.plane_support import KEY

BURST = 50
PLANE_LIMIT = 60


async def test_a_50_item_burst_gets_no_429_before_and_after_a_restart(tmp_path: Path) -> None:
    async with plane_rig(tmp_path) as rig:
        rig.emulator.rate_limit_per_min = PLANE_LIMIT
        saved = SqliteBudgetStore(rig.db)
        config = SyncConfig(rate_margin=0.1)

        def restart():  # a new process: a new budget, loaded from SQLite
            return rig.reconciler(budget=PLANE_LIMIT, margin=config.rate_margin,
                                  config=config, keeper=saved)

        first = restart()
        for n in range(BURST):
            rig.emulator.add_item("ORCH", f"burst {n}", state="Approved")
        before = rig.emulator.stats.calls
        await first.tick()
        first_calls = rig.emulator.stats.calls - before
        assert rig.emulator.stats.rate_limited == 0

        second = restart()  # at once: the window is still full of the first burst
        for n in range(BURST):
            rig.emulator.add_item("ORCH", f"second burst {n}", state="Approved")
        before = rig.emulator.stats.calls
        await second.tick()
        second_calls = rig.emulator.stats.calls - before

        assert rig.emulator.stats.rate_limited == 0
        assert rig.emulator.window(KEY).peak <= PLANE_LIMIT * 0.9
        keys = [f"ORCH-{n}" for n in range(1, 2 * BURST + 1)]
        assert all(rig.state_of(key) == "In Progress" for key in keys)
        # a start costs one read before the write, the write and its comment
        assert first_calls <= 3 * BURST + 10 and second_calls <= 3 * BURST + 10
        print(f"burst of {BURST}: {first_calls} requests, then {second_calls} after a "
              f"restart; 429s: {rig.emulator.stats.rate_limited}")
