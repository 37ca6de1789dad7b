"""How many messages the group may get now, on the injected clock.

Telegram allows about one message a second per chat with short bursts and 20 a minute
per group; edits count too. We stay under both so that the flood limit is never the
thing that decides what the team sees.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from core.clock import Clock

WINDOW = timedelta(seconds=60)


class SendBudget:
    """A sliding one-minute window plus a per-second token bucket, for one chat."""

    def __init__(self, clock: Clock, per_minute: int = 18, burst: int = 3,
                 per_second: float = 1.0) -> None:
        self._clock = clock
        self.per_minute = per_minute
        self._burst = burst
        self._rate = per_second
        self._sent: deque[datetime] = deque()
        self._tokens = float(burst)
        self._refilled_at = clock.now()

    def remaining(self) -> int:
        """Messages still allowed in the current minute window."""
        self._expire()
        return self.per_minute - len(self._sent)

    def wait_s(self) -> float:
        """Seconds until one more message may go; 0 when it may go now."""
        self._expire()
        self._refill()
        waits = [0.0]
        if len(self._sent) >= self.per_minute:
            waits.append((self._sent[0] + WINDOW - self._clock.now()).total_seconds())
        if self._tokens < 1:
            waits.append((1 - self._tokens) / self._rate)
        return max(waits)

    def take(self) -> None:
        """Count one message as sent now."""
        self._refill()
        self._tokens = max(0.0, self._tokens - 1)
        self._sent.append(self._clock.now())

    def _expire(self) -> None:
        horizon = self._clock.now() - WINDOW
        while self._sent and self._sent[0] <= horizon:
            self._sent.popleft()

    def _refill(self) -> None:
        now = self._clock.now()
        elapsed = (now - self._refilled_at).total_seconds()
        self._tokens = min(float(self._burst), self._tokens + elapsed * self._rate)
        self._refilled_at = now
