"""bench_claim runs end to end at a tiny size: its files and phases, and the check that
the claim and the naive claim pick the same jobs (the figures themselves are the bench's).
"""

from __future__ import annotations

from pathlib import Path

from bench import bench_claim


async def test_bench_claim_runs_at_a_tiny_size(tmp_path: Path) -> None:
    bench_claim.Q.update(bench_claim.load_queries())

    found = await bench_claim.bench_size(tmp_path, 200, calls=10, rounds=1, naive_calls=5)

    fresh, idle = found["fresh"]["claim"].ids, found["idle poll"]["claim"].ids
    assert len(fresh) == 10 and None not in fresh
    assert idle == [None] * 10 and found["idle poll"]["naive"].ids == [None] * 5
    assert len(bench_claim.verdict({200: found})) == len(bench_claim.PHASES)
