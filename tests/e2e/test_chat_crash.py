"""The crash test of the real process, small: `orch run` killed with SIGKILL inside
sends and right after input, restarted on the same database each time. `python -m
bench.chaos --kills 20` is the full run."""

from __future__ import annotations

import random
from pathlib import Path

from bench.chaos import chaos, verdict
from bench.chaos_morning import Plan

KILLS = 4


async def test_sigkills_lose_nothing_and_repeat_only_what_orch_owned_up_to(
        tmp_path: Path) -> None:
    seed = random.SystemRandom().randrange(10**6)
    counts = await chaos(KILLS, seed, tmp_path, Plan.small())
    summary = f"seed={seed} {counts}"
    assert counts["kills"] == KILLS and counts["during_send"] >= 1, summary
    assert counts["after_input"] >= 1, summary
    assert counts["inputs_lost"] == counts["tasks_lost"] == counts["pushes_lost"] == 0, summary
    assert counts["runs_stuck"] == 0 and counts["finished"], summary
    assert counts["suspect_rows"] == counts["logged_maybe_twice"], summary
    assert verdict(counts), summary
