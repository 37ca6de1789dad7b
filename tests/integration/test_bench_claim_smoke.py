"""bench_claim runs end to end at a tiny size: its files and phases, and the check that
the claim and the naive claim pick the same jobs (the figures themselves are the bench's).
"""

from __future__ import annotations

import os
from pathlib import Path

from bench import bench_claim


async def test_bench_claim_runs_at_a_tiny_size(tmp_path: Path) -> None:
    bench_claim.Q.update(bench_claim.load_queries())

    results = await bench_claim.bench_sizes(tmp_path, [200, 400], calls=10, rounds=1,
                                            naive_budget=1000)

    for size, naive_calls in ((200, 5), (400, 3)):
        found = results[size]
        fresh, idle = found["fresh"]["claim"].ids, found["idle poll"]["claim"].ids
        assert len(fresh) == 10 and None not in fresh
        assert idle == [None] * 10 and found["idle poll"]["naive"].ids == [None] * naive_calls
    # one line per phase for the ratio to the floor, one for the growth between sizes
    assert len(bench_claim.verdict(results)) == 2 * len(bench_claim.PHASES)
    assert os.listdir(tmp_path) == []  # every file and copy removed
