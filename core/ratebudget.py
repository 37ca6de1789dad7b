"""A request budget per API key: at most N requests in any sliding window.

Plane counts requests per key over a sliding 60 s window and answers 429 past the
limit; spending our own budget first means a busy tick slows down instead of being
refused. One RateBudget must be shared by everything that uses the same key.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from core.clock import Clock

DEFAULT_PER_MINUTE = 60


class RateBudget:
    """A sliding-window budget; `acquire()` waits on the clock when it is spent."""

    def __init__(
        self, clock: Clock, per_window: int = DEFAULT_PER_MINUTE, *, window_s: float = 60.0
    ) -> None:
        if per_window < 1 or window_s <= 0:
            raise ValueError("a budget needs per_window >= 1 and window_s > 0")
        self._clock = clock
        self._limit = per_window
        self._window = timedelta(seconds=window_s)
        self._spent: deque[datetime] = deque()
        self.waits = 0

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def remaining(self) -> int:
        """Requests that may start now without waiting."""
        self._forget_old(self._clock.now())
        return self._limit - len(self._spent)

    def try_acquire(self) -> float:
        """Spend one request if the budget allows: 0.0, else the seconds until it will."""
        now = self._clock.now()
        self._forget_old(now)
        if len(self._spent) < self._limit:
            self._spent.append(now)
            return 0.0
        wait = (self._spent[0] + self._window - now).total_seconds()
        return max(wait, 1e-6)  # never 0: that would mean "granted"

    async def acquire(self) -> None:
        """Spend one request, waiting (on the clock) until the window has room."""
        while (wait := self.try_acquire()) > 0:
            self.waits += 1
            await self._clock.sleep(wait)

    def _forget_old(self, now: datetime) -> None:
        horizon = now - self._window
        while self._spent and self._spent[0] <= horizon:
            self._spent.popleft()
