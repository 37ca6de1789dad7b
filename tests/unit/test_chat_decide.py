"""The outbox's pure decisions: fold or send, what a digest names, retries, the budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from core.chat.budget import GroupBudget
from core.chat.decide import MAX_ATTEMPTS, DigestLine, digest_lines, retry_delay, should_fold
from core.pipeline.tasks import ChangeKind, TaskEvent

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def event(key: str, kind: ChangeKind, n: int = 1) -> TaskEvent:
    return TaskEvent(n, int(key.split("-")[1]), key, T0, "engine", kind, "review", "merge", n)


@pytest.mark.parametrize(("pushes", "talk", "remaining", "fold"), [
    (2, 0, 0, False),  # two are always sent as they are
    (3, 0, 18, False),
    (10, 0, 18, True),
    (5, 10, 18, True),  # replies first: what is left is too little for five pushes
    (5, 0, 10, False),
])
def test_pushes_fold_only_when_they_would_eat_the_budget(
        pushes: int, talk: int, remaining: int, fold: bool) -> None:
    assert should_fold(pushes, talk, remaining) is fold


def test_a_digest_names_each_task_once_with_the_action_its_latest_news_needs() -> None:
    lines = digest_lines([
        event("ORCH-1", ChangeKind.NEEDS_APPROVAL, 1), event("ORCH-2", ChangeKind.DONE, 2),
        event("ORCH-3", ChangeKind.FAILED, 3), event("ORCH-1", ChangeKind.BLOCKED, 4)])
    assert lines == [DigestLine("ORCH-1", "unblock"), DigestLine("ORCH-2", None),
                     DigestLine("ORCH-3", "retry")]


def test_retries_back_off_and_then_give_up() -> None:
    delays = [retry_delay(n) for n in range(1, MAX_ATTEMPTS + 1)]
    assert delays[-1] is None
    waits = [d for d in delays if d is not None]
    assert len(waits) == MAX_ATTEMPTS - 1 and all(a < b for a, b in pairwise(waits))


def test_the_budget_counts_a_minute_and_a_burst() -> None:
    budget = GroupBudget(per_minute=5, burst=3)
    for _ in range(3):
        assert budget.wait_s(T0) == 0
        budget.take(T0)
    assert budget.wait_s(T0) == pytest.approx(3.0)  # the burst is spent
    later = T0 + timedelta(seconds=3)
    budget.take(later)
    budget.take(later)
    assert budget.remaining(later) == 0
    assert budget.wait_s(later) == pytest.approx(57.0)  # the minute is spent
    assert budget.wait_s(T0 + timedelta(seconds=60)) == 0


def test_a_budget_loaded_from_send_times_is_as_spent_as_before() -> None:
    sent = [T0 + timedelta(seconds=n * 2) for n in range(18)]
    now = T0 + timedelta(seconds=40)
    assert GroupBudget(18, sent=sent).remaining(now) == 0
    assert GroupBudget(18, sent=sent).wait_s(now) == pytest.approx(20.0)
