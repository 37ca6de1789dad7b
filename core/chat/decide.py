"""The outbox's decisions, pure: fold or send, what a digest names, when to try again.

Nothing here talks to SQLite or Telegram; the courier applies these to its ports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.pipeline.tasks import ChangeKind, TaskEvent

# What a person can do about a push: said in digests so nobody has to open /queue.
ACTIONS = {
    ChangeKind.NEEDS_APPROVAL: "approve",
    ChangeKind.BLOCKED: "unblock",
    ChangeKind.FAILED: "retry",
}
MAX_ATTEMPTS = 5
BACKOFF_S = (2.0, 5.0, 15.0, 60.0, 300.0)


def should_fold(pushes: int, talk: int, remaining: int) -> bool:
    """Fold the pending pushes into one digest when they would eat the budget.

    `talk` (replies, alerts) goes first and is never folded; pushes share what is left.
    Two pushes are always sent as they are: a digest of two says less than they do.
    """
    if pushes <= 2:
        return False
    return pushes > max(0, remaining - talk) // 2


@dataclass(frozen=True, slots=True)
class DigestLine:
    key: str
    action: str | None  # None: news only


def digest_lines(events: Sequence[TaskEvent]) -> list[DigestLine]:
    """One line per task, its latest news deciding the action it still needs."""
    latest: dict[str, TaskEvent] = {}
    for event in events:
        latest[event.key] = event
    return [DigestLine(key, ACTIONS.get(event.kind)) for key, event in latest.items()]


def retry_delay(attempts: int) -> float | None:
    """Seconds before trying a failed send again, or None: give up."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1] if attempts > 0 else BACKOFF_S[0]
