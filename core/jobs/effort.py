"""What the agents cost, and what became of a task's last run, as people see it.

`EffortView` is a card note ("3 runs · 41 min · 1.2M tokens · $3.10", and "stopped
ORCH-12's developer run: moved to Blocked in Plane" when the task's last run was
stopped), a /queue block (today's totals, the most expensive running task) and the
rows of /api/runs. It reads the `RunLedger` (storage/runs.py); it writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from core.clock import Clock
from core.jobs.model import Run, RunStatus
from core.pipeline.tasks import Task
from core.ports.jobs import RunLedger
from core.queue_view import QueueBlock

STALLED = "stalled"


@dataclass(frozen=True, slots=True)
class EffortTotals:
    runs: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    tokens: int = 0
    cost: float | None = None  # None: no run reported a cost

    def spelled(self) -> str:
        """3 runs · 41 min · 1.2M tokens · $3.10 (tokens and cost only when reported)."""
        parts = [f"{self.runs} run{'s' if self.runs != 1 else ''}", _minutes(self.wall_s)]
        if self.tokens:
            parts.append(f"{_count(self.tokens)} tokens")
        if self.cost is not None:
            parts.append(f"${self.cost:,.2f}")
        return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class Costliest:
    key: str
    totals: EffortTotals


class EffortView:
    """Card note, /queue block and /api/runs; see the module docstring."""

    def __init__(self, ledger: RunLedger, clock: Clock) -> None:
        self._ledger = ledger
        self._clock = clock

    async def card_note(self, task: Task) -> str | None:
        lines = []
        last = await self._ledger.last_run(task.id)
        if last is not None:
            line = last_run_line(task.key, last)
            if line:
                lines.append(f"⏹ {line}")
        totals = await self._ledger.task_totals(task.id)
        if totals.runs:
            lines.append(f"🧾 {totals.spelled()}")
        return "\n".join(lines) or None

    async def queue_block(self) -> QueueBlock | None:
        today = await self._ledger.totals_since(self.day_start())
        costliest = await self._ledger.costliest_running()
        lines = [f"today {today.spelled()}"]
        if costliest is not None:
            lines.append(f"most expensive running: {costliest.key} {costliest.totals.spelled()}")
        data = {"today_runs": today.runs, "today_wall_s": round(today.wall_s, 1),
                "today_tokens": today.tokens, "today_cost": today.cost}
        return QueueBlock("effort", tuple(lines), data)

    async def runs(self, limit: int = 100) -> dict[str, Any]:
        """/api/runs: today's totals and the newest runs."""
        today = await self._ledger.totals_since(self.day_start())
        rows = await self._ledger.recent(max(1, min(limit, 1000)))
        return {"today": {"runs": today.runs, "wall_s": today.wall_s, "cpu_s": today.cpu_s,
                          "tokens": today.tokens, "cost": today.cost},
                "runs": list(rows)}

    def day_start(self) -> datetime:
        now = self._clock.now()
        return datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)


def last_run_line(key: str, run: Run) -> str | None:
    """What a card says about a run that did not simply succeed or fail."""
    error = (run.error or "").strip().splitlines()[0] if run.error else ""
    role = run.role or "agent"
    if run.status is RunStatus.CANCELLED:
        reason = error.removeprefix("stopped: ")
        return f"stopped {key}'s {role} run: {reason}" if reason else f"stopped {key}'s run"
    if run.status is RunStatus.FAILED and error.startswith(STALLED):
        return f"{key}'s {role} run {error}"
    return None


def _minutes(seconds: float) -> str:
    if seconds < 60:
        return "<1 min"  # seconds would make every card edit differ
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1_000:.0f}k"
    if n >= 1_000:
        return f"{n / 1_000:.1f}k"
    return str(n)
