"""The group's send budget, decided from the times of recent sends.

Telegram allows about one message a second per chat with short bursts and 20 a minute
per group; edits count too. The times are kept in SQLite and loaded at start, so a
restart neither refills the budget nor causes a burst of 429s.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta

MINUTE = timedelta(seconds=60)
BURST_WINDOW = timedelta(seconds=3)


class GroupBudget:
    """At most `per_minute` in any 60 s and `burst` in any 3 s (about one a second)."""

    def __init__(self, per_minute: int = 18, burst: int = 3,
                 sent: Iterable[datetime] = ()) -> None:
        if per_minute < 1 or burst < 1:
            raise ValueError("a budget needs per_minute >= 1 and burst >= 1")
        self.per_minute = per_minute
        self.burst = burst
        self._sent: deque[datetime] = deque(sorted(sent))

    def remaining(self, now: datetime) -> int:
        """Messages still allowed in the current minute."""
        self._expire(now)
        return max(0, self.per_minute - len(self._sent))

    def wait_s(self, now: datetime) -> float:
        """Seconds until one more message may go; 0 when it may go now."""
        self._expire(now)
        waits = [0.0]
        if len(self._sent) >= self.per_minute:
            waits.append((self._sent[0] + MINUTE - now).total_seconds())
        recent = [t for t in self._sent if t > now - BURST_WINDOW]
        if len(recent) >= self.burst:
            waits.append((recent[-self.burst] + BURST_WINDOW - now).total_seconds())
        return max(waits)

    def take(self, at: datetime) -> None:
        """Count one message as gone at `at` (persisted by the caller)."""
        self._sent.append(at)

    def _expire(self, now: datetime) -> None:
        while self._sent and self._sent[0] <= now - MINUTE:
            self._sent.popleft()
