"""Plane's per-key throttle: a sliding 60 s window; refused requests do not count."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Admission:
    allowed: bool
    remaining: int  # after this request, when allowed
    retry_after: int  # whole seconds until the oldest counted request ages out


class SlidingWindow:
    """Requests of one key over the last `window_s` seconds."""

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window = timedelta(seconds=window_s)
        self._times: deque[datetime] = deque()
        self.peak = 0  # most requests ever counted in one window

    def admit(self, now: datetime) -> Admission:
        horizon = now - self.window
        while self._times and self._times[0] <= horizon:
            self._times.popleft()
        if len(self._times) >= self.limit:
            wait = (self._times[0] + self.window - now).total_seconds()
            return Admission(False, 0, max(1, math.ceil(wait)))
        self._times.append(now)
        self.peak = max(self.peak, len(self._times))
        return Admission(True, self.limit - len(self._times), 0)
