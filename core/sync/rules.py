"""The reconciler's rules as pure functions: what an item's state means, and what to do.

Two defects of the system orch grows from shaped these rules (incident ET-002: a done
item reported "unblocked" every two minutes all night):

- Terminal items are told apart by their state's **group** (completed, cancelled), which
  no renaming or id aliasing can fool; the configured logical key is only a fallback when
  the group is unknown. So a Done item whose state id is also configured as "approved"
  is still done.
- A move is made only when the item's state really changed since the last reconcile (or
  the item is finished), and only if the task is not there already; the notifier then
  pushes only when the stored stage changed. The UnblockGuard is a last backstop.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from core.pipeline.stages import BLOCKED, TERMINAL, Stage
from core.sync.records import ItemRecord
from core.sync.states_cache import ProjectStates
from core.tracker import StateGroup


class Standing(StrEnum):
    """What an item's state means to the pipeline."""

    DONE = "done"  # completed group
    CANCELLED = "cancelled"  # cancelled group
    BLOCKED = "blocked"
    APPROVED = "approved"
    OPEN = "open"  # anything else: backlog, todo, in progress, in review, …

    @property
    def terminal(self) -> bool:
        return self in (Standing.DONE, Standing.CANCELLED)


class SyncAction(StrEnum):
    """The one thing a reconcile does with an item."""

    NOTHING = "nothing"
    SKIP_TERMINAL = "skip_terminal"  # finished in the tracker and never a task: counted
    CREATE = "create"
    BLOCK = "block"
    UNBLOCK = "unblock"
    CLOSE = "close"
    CANCEL = "cancel"


def standing_of(states: ProjectStates, state_id: str) -> Standing:
    """Group first, never the id: a terminal group wins over any configured key."""
    group = states.group_of(state_id)
    if group is StateGroup.COMPLETED:
        return Standing.DONE
    if group is StateGroup.CANCELLED:
        return Standing.CANCELLED
    if group is None:  # a state the cache has not seen: the logical key is all we have
        if state_id == states.id_for("done"):
            return Standing.DONE
        if state_id == states.id_for("cancelled"):
            return Standing.CANCELLED
    if state_id == states.id_for("blocked"):
        return Standing.BLOCKED
    if state_id == states.id_for("approved"):
        return Standing.APPROVED
    return Standing.OPEN


def decide(
    now: Standing,
    *,
    before: Standing | None,
    changed: bool,
    echo: bool,
    task_stage: Stage | None,
) -> SyncAction:
    """The action for one item.

    `before` is the standing of the state the last reconcile saw (None: never seen);
    `changed` says the state differs from it; `echo` that the new state is the one orch
    wrote itself; `task_stage` is None when the item has no task.
    """
    if task_stage is None:
        if now.terminal:
            return SyncAction.SKIP_TERMINAL
        return SyncAction.CREATE if now is Standing.APPROVED else SyncAction.NOTHING
    if task_stage in TERMINAL:
        return SyncAction.NOTHING  # finished tasks never move again
    # A finished item finishes its task whenever it is seen: that also heals drift.
    if now is Standing.DONE:
        return SyncAction.CLOSE
    if now is Standing.CANCELLED:
        return SyncAction.CANCEL
    if not changed or echo:
        return SyncAction.NOTHING
    if now is Standing.BLOCKED:
        return SyncAction.BLOCK if task_stage != BLOCKED else SyncAction.NOTHING
    if before is Standing.BLOCKED and task_stage == BLOCKED:
        return SyncAction.UNBLOCK
    return SyncAction.NOTHING


def judge(states: ProjectStates, state_id: str, record: ItemRecord | None,
          task_stage: Stage | None) -> SyncAction:
    """`decide` for an item now in `state_id`, against what its record remembers."""
    changed = record is None or record.seen_state_id != state_id
    before = None
    if record is not None and record.seen_state_id is not None:
        before = standing_of(states, record.seen_state_id)
    echo = changed and record is not None and state_id == record.written_state_id
    return decide(standing_of(states, state_id), before=before, changed=changed, echo=echo,
                  task_stage=task_stage)


def remembered(record: ItemRecord | None, item_id: str, project_id: str, key: str,
               state_id: str, updated_at: datetime, synced_version: int | None = None,
               ) -> ItemRecord:
    """The record after an item was reconciled (seen, so not missing). Any observed state
    change consumes orch's own write: it either came back, or a person overrode it."""
    changed = record is None or record.seen_state_id != state_id
    written = None if changed or record is None else record.written_state_id
    return ItemRecord(item_id, project_id, key, state_id, updated_at, written, synced_version)


def synced_after(record: ItemRecord | None, state_id: str, action: SyncAction,
                 task_version: int) -> int | None:
    """Which task version the item's state reflects after a reconcile.

    A new task reflects the state it was created from (version 1), so orch's own start
    is still owed; orch's write coming back keeps what the write-back recorded; any other
    change of state is a person's word, the latest there is."""
    if record is None:
        return 1 if action is SyncAction.CREATE else task_version
    if record.seen_state_id == state_id or state_id == record.written_state_id:
        return record.synced_version
    return task_version


class UnblockGuard:
    """{item → the state it was last unblocked in}: the same item is never unblocked
    twice in the same state without having been seen blocked in between."""

    def __init__(self) -> None:
        self._last: dict[str, str] = {}
        self.deduped_total = 0

    def seen_blocked(self, item_id: str) -> None:
        self._last.pop(item_id, None)

    def admit(self, item_id: str, state_id: str) -> bool:
        """True if this unblock is news (and remember it); False, counted, if a repeat."""
        if self._last.get(item_id) == state_id:
            self.deduped_total += 1
            return False
        self._last[item_id] = state_id
        return True
