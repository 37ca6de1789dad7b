"""A Scheduler that runs nothing by itself: tests say when time passes and work runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.ports.schedule import Callback


@dataclass
class ManualScheduler:
    """Keeps the periodic callbacks and the prompt ones; `run_soon` runs the prompt ones
    (and those they schedule) in order, `run_every` runs each periodic one once."""

    periodic: dict[str, tuple[float, Callback]] = field(default_factory=dict)
    queued: list[tuple[str, Callback]] = field(default_factory=list)

    def every(self, seconds: float, callback: Callback, *, name: str) -> None:
        self.periodic[name] = (seconds, callback)

    def soon(self, callback: Callback, *, name: str) -> None:
        self.queued.append((name, callback))

    async def run_soon(self) -> int:
        """Run every queued callback, including those queued meanwhile; how many ran."""
        ran = 0
        while self.queued:
            _, callback = self.queued.pop(0)
            await callback()
            ran += 1
        return ran

    async def run_every(self) -> None:
        """One period passes: each periodic callback runs once, then the prompt ones."""
        for _, callback in list(self.periodic.values()):
            await callback()
        await self.run_soon()
