"""A request budget per API key: at most N requests in any sliding window, with a margin.

Plane counts requests per key over a sliding 60 s window and answers 429 past the
limit; spending our own budget first means a busy tick slows down instead of being
refused. One RateBudget must be shared by everything that uses the same key.

Three things keep it honest beyond its own count:
- a margin: orch spends at most `limit × (1 − margin)`, leaving room for others;
- the server's word: `observe(remaining)` (X-RateLimit-Remaining counts every user of
  the key) tops the window up with requests orch did not make itself;
- a pause: `pause(seconds)` (a Retry-After) makes every acquire wait it out.
Its state is a snapshot (`snapshot()` / `restore()`) that a restart reloads, so the
budget does not start full after a crash.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.clock import Clock

DEFAULT_PER_MINUTE = 60
DEFAULT_MARGIN = 0.1


@dataclass(frozen=True, slots=True)
class BudgetSnapshot:
    """What a restart needs: the requests still inside the window, and any pause."""

    spent: tuple[datetime, ...]
    paused_until: datetime | None


class RateBudget:
    """A sliding-window budget; `acquire()` waits on the clock when it is spent."""

    def __init__(
        self, clock: Clock, per_window: int = DEFAULT_PER_MINUTE, *, window_s: float = 60.0,
        margin: float = 0.0,
    ) -> None:
        if per_window < 1 or window_s <= 0 or not 0 <= margin < 1:
            raise ValueError("a budget needs per_window >= 1, window_s > 0, 0 <= margin < 1")
        self._clock = clock
        self._server_limit = per_window
        self._limit = max(1, math.floor(per_window * (1 - margin) + 1e-9))
        self._window = timedelta(seconds=window_s)
        self._spent: deque[datetime] = deque()
        self._paused_until: datetime | None = None
        self.waits = 0
        self.changed = False  # since the last snapshot

    @property
    def limit(self) -> int:
        """What orch allows itself per window (the server's limit less the margin)."""
        return self._limit

    @property
    def remaining(self) -> int:
        """Requests that may start now without waiting."""
        self._forget_old(self._clock.now())
        return max(0, self._limit - len(self._spent))

    def pause_left(self) -> float:
        """Seconds until a pause asked for by the server is over (0: none)."""
        if self._paused_until is None:
            return 0.0
        return max(0.0, (self._paused_until - self._clock.now()).total_seconds())

    def pause(self, seconds: float) -> None:
        """The server said wait (Retry-After): every acquire waits until then."""
        until = self._clock.now() + timedelta(seconds=max(0.0, seconds))
        if self._paused_until is None or until > self._paused_until:
            self._paused_until = until
            self.changed = True

    def observe(self, remaining: int) -> None:
        """The server's count of the window (every user of the key): never trust our own
        count to be the higher one."""
        now = self._clock.now()
        self._forget_old(now)
        used = self._server_limit - max(0, remaining)
        for _ in range(used - len(self._spent)):
            self._spent.append(now)
            self.changed = True

    def try_acquire(self) -> float:
        """Spend one request if the budget allows: 0.0, else the seconds until it will."""
        now = self._clock.now()
        if (left := self.pause_left()) > 0:
            return left
        self._forget_old(now)
        if len(self._spent) < self._limit:
            self._spent.append(now)
            self.changed = True
            return 0.0
        index = len(self._spent) - self._limit
        wait = (self._spent[index] + self._window - now).total_seconds()
        return max(wait, 1e-6)  # never 0: that would mean "granted"

    async def acquire(self) -> None:
        """Spend one request, waiting (on the clock) until the window has room."""
        while (wait := self.try_acquire()) > 0:
            self.waits += 1
            await self._clock.sleep(wait)

    def snapshot(self) -> BudgetSnapshot:
        self._forget_old(self._clock.now())
        self.changed = False
        return BudgetSnapshot(tuple(self._spent), self._paused_until)

    def restore(self, snapshot: BudgetSnapshot) -> None:
        """Take back a saved state (after a restart); requests already counted stay."""
        merged = sorted([*self._spent, *snapshot.spent])
        self._spent = deque(merged)
        self._forget_old(self._clock.now())
        if snapshot.paused_until is not None:
            if self._paused_until is None or snapshot.paused_until > self._paused_until:
                self._paused_until = snapshot.paused_until

    def _forget_old(self, now: datetime) -> None:
        horizon = now - self._window
        while self._spent and self._spent[0] <= horizon:
            self._spent.popleft()
