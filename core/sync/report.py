"""What a reconcile did, as data: one tick's report, running totals, the /queue block."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from core.errors import TrackerError
from core.queue_view import QueueBlock

log = logging.getLogger("orch.reconciler")


@dataclass(frozen=True, slots=True)
class Change:
    """One task changed because of the tracker: `what` is created, blocked, unblocked,
    closed, cancelled or deleted."""

    key: str
    what: str


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one tick (or one targeted reconcile) saw and changed."""

    started_at: datetime
    duration_s: float
    full: bool
    items_seen: int
    repeats: int  # (id, updated_at) already reconciled: nothing to do
    changes: tuple[Change, ...]
    skipped_terminal: int
    deduped: int
    errors: int
    api_calls: int
    rate_limit_waits: int
    writebacks: int
    last_error: str | None
    missing: int = 0  # items marked (or still) missing in the tracker
    released: int = 0  # tasks released from dependencies
    paused_projects: int = 0  # projects skipped: waiting for a person's confirmation
    rate_paused: bool = False  # not started: the tracker asked orch to wait
    yielded: int = 0  # projects whose walk ran out of time and goes on next tick

    @property
    def items_changed(self) -> int:
        return len(self.changes)

    @property
    def ok(self) -> bool:
        return self.errors == 0


@dataclass
class Tally:
    """A tick's counters while it runs; `report()` freezes them."""

    started_at: datetime
    full: bool = False
    seen: int = 0
    repeats: int = 0
    skipped_terminal: int = 0
    deduped: int = 0
    errors: int = 0
    writebacks: int = 0
    changes: list[Change] = field(default_factory=list)
    last_error: str | None = None
    missing: int = 0
    released: int = 0
    paused_projects: int = 0
    rate_paused: bool = False
    yielded: int = 0

    def change(self, key: str, what: str) -> None:
        self.changes.append(Change(key, what))

    def fail(self, where: str, exc: BaseException) -> None:
        """Count and log a failure; the tick carries on with the next item or project."""
        self.errors += 1
        self.last_error = f"{where}: {exc}"
        if isinstance(exc, TrackerError):
            log.warning("reconcile %s failed: %s", where, exc)
        else:
            log.error("reconcile %s failed", where, exc_info=exc)

    def report(self, duration_s: float, api_calls: int, waits: int) -> TickReport:
        return TickReport(
            started_at=self.started_at,
            duration_s=duration_s,
            full=self.full,
            items_seen=self.seen,
            repeats=self.repeats,
            changes=tuple(self.changes),
            skipped_terminal=self.skipped_terminal,
            deduped=self.deduped,
            errors=self.errors,
            api_calls=api_calls,
            rate_limit_waits=waits,
            writebacks=self.writebacks,
            last_error=self.last_error,
            missing=self.missing,
            released=self.released,
            paused_projects=self.paused_projects,
            rate_paused=self.rate_paused,
            yielded=self.yielded,
        )


@dataclass
class ReconcilerStats:
    """Running totals since start, and the last tick."""

    ticks: int = 0
    targeted: int = 0  # webhook hints and retries reconciled between ticks
    items_seen_total: int = 0
    changed_total: int = 0
    skipped_terminal_total: int = 0
    deduped_total: int = 0
    errors_total: int = 0
    writebacks_total: int = 0
    api_calls_total: int = 0
    rate_limit_waits_total: int = 0
    hints_dropped: int = 0
    last_tick: TickReport | None = None
    last_error: str | None = None

    def add(self, report: TickReport, *, tick: bool) -> None:
        if tick:
            self.ticks += 1
            self.last_tick = report
        else:
            self.targeted += 1
        self.items_seen_total += report.items_seen
        self.changed_total += report.items_changed
        self.skipped_terminal_total += report.skipped_terminal
        self.deduped_total += report.deduped
        self.errors_total += report.errors
        self.writebacks_total += report.writebacks
        self.api_calls_total += report.api_calls
        self.rate_limit_waits_total += report.rate_limit_waits
        if report.last_error is not None:
            self.last_error = report.last_error


def reconcile_block(stats: ReconcilerStats, budget: tuple[int, int] | None,
                    pending_writebacks: int) -> QueueBlock:
    """The /queue block: `budget` is (left, limit) of the shared request budget."""
    last = stats.last_tick
    left = f" ({budget[0]}/{budget[1]} left)" if budget else ""
    if last is None:
        head = "no tick yet"
    else:
        head = (f"{last.started_at:%H:%M:%S} · {last.duration_s:.1f} s · {last.items_seen} seen"
                f" · {last.items_changed} changed · {last.api_calls} calls{left}")
    lines = [head,
             f"skipped terminal {stats.skipped_terminal_total} · deduped {stats.deduped_total}"
             f" · rate-limit waits {stats.rate_limit_waits_total} · errors {stats.errors_total}"]
    if pending_writebacks:
        lines.append(f"{pending_writebacks} write-backs waiting")
    if stats.last_error:
        lines.append(f"last error: {stats.last_error}")
    data: dict[str, object] = {
        "last_tick_at": last.started_at if last else None,
        "last_tick_duration_s": last.duration_s if last else None,
        "items_seen": last.items_seen if last else 0,
        "items_changed": last.items_changed if last else 0,
        "api_calls": last.api_calls if last else 0,
        "budget_left": budget[0] if budget else None,
        "skipped_terminal_total": stats.skipped_terminal_total,
        "deduped_total": stats.deduped_total,
        "rate_limit_waits": stats.rate_limit_waits_total,
        "errors_total": stats.errors_total,
        "pending_writebacks": pending_writebacks,
        "last_error": stats.last_error,
    }
    return QueueBlock("reconcile", tuple(lines), data)
