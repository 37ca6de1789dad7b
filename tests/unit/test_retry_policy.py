"""The backoff schedule: exponential, jittered within bounds, seedable, and a budget."""

from __future__ import annotations

import random

import pytest

from core.jobs.model import RetryPolicy


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 30), (2, 60), (3, 120), (4, 240),
                                                  (6, 900), (20, 900)])
def test_each_delay_lies_between_half_and_all_of_its_ceiling(attempt: int, ceiling: float
                                                             ) -> None:
    policy = RetryPolicy(base_s=30, cap_s=900, rng=random.Random(1))

    delays = [policy.decide(attempt, 100) for _ in range(200)]

    assert all(d is not None and ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 100  # jittered, not one fixed value


def test_the_budget_counts_every_try() -> None:
    policy = RetryPolicy(rng=random.Random(1))

    assert [policy.decide(n, 3) is None for n in (1, 2, 3, 4)] == [False, False, True, True]


def test_a_seeded_policy_repeats_its_schedule() -> None:
    first = [RetryPolicy(rng=random.Random(5)).decide(n, 9) for n in range(1, 6)]
    second = [RetryPolicy(rng=random.Random(5)).decide(n, 9) for n in range(1, 6)]

    assert first == second


def test_the_schedule_grows_on_average() -> None:
    policy = RetryPolicy(base_s=10, cap_s=10_000, rng=random.Random(2))

    means = [sum(policy.decide(n, 99) or 0 for _ in range(100)) / 100 for n in range(1, 6)]

    assert means == sorted(means)
