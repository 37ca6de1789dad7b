"""The clock port: time goes through it, so tests move a clock instead of sleeping."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Wall time for records and a sleep that tests can fast-forward
    (core.clock.SystemClock; core.clock.ManualClock in tests)."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        ...
