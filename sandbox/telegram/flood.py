"""Telegram's flood limits, computed from an injected clock so tests move time by hand.

Three limits apply to every message sent or edited: a per-chat token bucket (about one a
second with a short burst), at most N per sliding minute in a group, and at most M per
second overall. A call is checked against all three first and recorded only if it succeeds.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class FloodLimits:
    """Tunable limits; the defaults follow Telegram's Bots FAQ."""

    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    group_per_minute: int = 20
    global_per_second: int = 30
    enabled: bool = True
    # answerCallbackQuery after this long fails with "query is too old".
    callback_answer_timeout: float = 15.0


@dataclass
class _Bucket:
    tokens: float
    updated: datetime


class _SlidingWindow:
    """At most `limit` events within any `span`."""

    def __init__(self, limit: int, span: timedelta) -> None:
        self.limit = limit
        self.span = span
        self._events: deque[datetime] = deque()

    def retry_after(self, now: datetime) -> float | None:
        while self._events and self._events[0] <= now - self.span:
            self._events.popleft()
        if len(self._events) < self.limit:
            return None
        return (self._events[0] + self.span - now).total_seconds()

    def record(self, now: datetime) -> None:
        self._events.append(now)


class FloodControl:
    """Decides whether a send/edit in a chat may go out now, and how long to wait if not."""

    def __init__(self, limits: FloodLimits) -> None:
        self.limits = limits
        self._buckets: dict[int, _Bucket] = {}
        self._groups: dict[int, _SlidingWindow] = {}
        self._global = _SlidingWindow(limits.global_per_second, timedelta(seconds=1))

    def retry_after(self, chat_id: int, now: datetime) -> int | None:
        """Whole seconds to wait (at least 1) if a message now would break a limit, else None."""
        if not self.limits.enabled:
            return None
        waits = [
            self._bucket_wait(chat_id, now),
            self._group(chat_id).retry_after(now) if chat_id < 0 else None,
            self._global.retry_after(now),
        ]
        longest = max((w for w in waits if w is not None), default=None)
        if longest is None:
            return None
        return max(1, math.ceil(longest - 1e-9))

    def record(self, chat_id: int, now: datetime) -> None:
        """Count a message that went out."""
        bucket = self._refilled(chat_id, now)
        bucket.tokens -= 1
        if chat_id < 0:
            self._group(chat_id).record(now)
        self._global.record(now)

    def _bucket_wait(self, chat_id: int, now: datetime) -> float | None:
        tokens = self._refilled(chat_id, now).tokens
        if tokens >= 1:
            return None
        return (1 - tokens) / self.limits.per_chat_per_second

    def _refilled(self, chat_id: int, now: datetime) -> _Bucket:
        burst = float(self.limits.per_chat_burst)
        bucket = self._buckets.setdefault(chat_id, _Bucket(burst, now))
        elapsed = max(0.0, (now - bucket.updated).total_seconds())
        bucket.tokens = min(burst, bucket.tokens + elapsed * self.limits.per_chat_per_second)
        bucket.updated = max(bucket.updated, now)
        return bucket

    def _group(self, chat_id: int) -> _SlidingWindow:
        window = self._groups.get(chat_id)
        if window is None:
            window = _SlidingWindow(self.limits.group_per_minute, timedelta(minutes=1))
            self._groups[chat_id] = window
        return window
