"""Which changes deserve a push, and the guard that keeps news from being said twice.

A push interrupts people, so it is reserved for news that needs them, and only for a
change that really happened (the stored stage before differs from the stage after).
The guard (in memory, written through to SQLite by the chat's outbox) backs that rule
up: the same (kind, stage) is never pushed twice in a row for one task.
"""

from __future__ import annotations

from core.pipeline.tasks import ChangeKind, TaskEvent

PUSH_KINDS = frozenset({
    ChangeKind.NEEDS_APPROVAL, ChangeKind.BLOCKED, ChangeKind.UNBLOCKED, ChangeKind.FAILED,
    ChangeKind.DONE,
})
# News that needs people although the stage stays: a task that waited may now run.
IN_PLACE_PUSH_KINDS = frozenset({ChangeKind.DEPS_RELEASED})


def wants_push(event: TaskEvent) -> bool:
    """True for news that needs people; a person's own cancel needs no push back."""
    if event.kind in IN_PLACE_PUSH_KINDS:
        return True
    if not event.stage_changed:
        return False
    if event.kind is ChangeKind.CANCELLED:
        return not event.actor.startswith("telegram:")
    return event.kind in PUSH_KINDS


class DedupGuard:
    """{task → last pushed (kind, stage)}; counts what it held back in `deduped_total`."""

    def __init__(self, marks: dict[int, tuple[ChangeKind, str]] | None = None,
                 deduped_total: int = 0) -> None:
        # marks: what a restart loaded from SQLite, so a restart cannot repeat a push
        self._last: dict[int, tuple[ChangeKind, str]] = dict(marks or {})
        self.deduped_total = deduped_total

    def admit(self, event: TaskEvent) -> bool:
        """True if this push is news; remembers it. False (and counted) if a repeat."""
        mark = (event.kind, event.to_stage)
        if self._last.get(event.task_id) == mark:
            self.deduped_total += 1
            return False
        self._last[event.task_id] = mark
        return True
