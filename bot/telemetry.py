"""What orch's Telegram calls did: counted by method and outcome, the last success kept.

`TrackedRequest` is PTB's HTTPXRequest that reports every Bot API call to one
`TelegramCalls`: /metrics counts them (sends, edits, 429s) and /readyz asks whether the
last call succeeded recently. Only the method name is kept: the URL holds the token.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram.request import HTTPXRequest

from core.clock import Clock

OK, REFUSED, RATE_LIMITED, UNREACHABLE = "ok", "refused", "429", "unreachable"


@dataclass
class TelegramCalls:
    """Bot API calls by (method, outcome), and when the last one succeeded or failed."""

    clock: Clock
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    last_ok_at: datetime | None = None
    last_failed_at: datetime | None = None
    last_error: str | None = None
    last_call_ok: bool | None = None  # None: no call yet

    def record(self, method: str, outcome: str, error: str | None = None) -> None:
        self.calls[(method, outcome)] += 1
        now = self.clock.now()
        # a refusal (400 on a stale edit) still proves Telegram answers
        self.last_call_ok = outcome != UNREACHABLE and not outcome.startswith("5")
        if self.last_call_ok:
            self.last_ok_at = now
        else:
            self.last_failed_at, self.last_error = now, error

    def total(self, method: str | None = None, outcome: str | None = None) -> int:
        return sum(n for (m, o), n in self.calls.items()
                   if (method is None or m == method) and (outcome is None or o == outcome))


class TrackedRequest(HTTPXRequest):
    """HTTPXRequest that tells `calls` how every request went."""

    def __init__(self, calls: TelegramCalls, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._calls = calls

    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any,
                         ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1] or "?"
        try:
            status, payload = await super().do_request(url, method, *args, **kwargs)
        except Exception as exc:
            self._calls.record(name, UNREACHABLE, type(exc).__name__)
            raise
        self._calls.record(name, _outcome(status), None if status < 500 else f"HTTP {status}")
        return status, payload


def _outcome(status: int) -> str:
    if status == 429:
        return RATE_LIMITED
    if status < 300:
        return OK
    return str(status) if status >= 500 else REFUSED
