"""The tracker's value types: what orch needs from Plane (or any tracker), in domain terms.

The ports themselves (TrackerReader, TrackerWriter, Tracker) are in core.ports.tracker.
Nothing here speaks HTTP. The adapter is `core.integrations.plane.client.PlaneClient`; tests use
the Plane emulator in `sandbox.plane` or a fake that passes the same contract.

Sync model: the tracker lists items newest-change first (`order_by="-updated_at"`).
An incremental sync walks pages until it reaches items older than its watermark; a full
scan walks every page. Pages are offset based and rows shift while items change, so an
incremental walk can repeat an item (harmless: sync is idempotent) and, when an item is
deleted mid-walk, skip one; the periodic full scan is what catches those.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.ports import TrackerReader  # the port; this module holds its value types

DEFAULT_PER_PAGE = 100


class StateGroup(StrEnum):
    """Plane's fixed classification of a project's (freely named) states."""

    BACKLOG = "backlog"
    UNSTARTED = "unstarted"
    STARTED = "started"
    COMPLETED = "completed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Completed and cancelled items are finished: no pipeline work starts from them."""
        return self in (StateGroup.COMPLETED, StateGroup.CANCELLED)


@dataclass(frozen=True, slots=True)
class TrackerState:
    """One workflow state of a project."""

    id: str
    name: str
    group: StateGroup


@dataclass(frozen=True, slots=True)
class TrackerProject:
    """A project; `identifier` is the key prefix (`ORCH` in `ORCH-42`)."""

    id: str
    identifier: str
    name: str


@dataclass(frozen=True, slots=True)
class WorkItem:
    """A work item as orch sees it; `description` is plain text (the adapter converts
    whatever rich text its tracker stores); `changed_by` names the person whose change
    is the item's latest ("" when the tracker does not say, or it was orch itself)."""

    id: str
    project_id: str
    key: str
    sequence_id: int
    name: str
    state_id: str
    updated_at: datetime
    description: str
    priority: str
    changed_by: str = ""


@dataclass(frozen=True, slots=True)
class Relations:
    """Dependencies of one item, as item ids (the tracker stores `blocked_by` only)."""

    blocked_by: tuple[str, ...] = ()
    blocking: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ItemPage:
    """One page of a listing; `next_cursor` is None on the last page."""

    items: tuple[WorkItem, ...]
    next_cursor: str | None


async def iter_items(
    tracker: TrackerReader,
    project_id: str,
    *,
    since: datetime | None = None,
    per_page: int = DEFAULT_PER_PAGE,
) -> AsyncIterator[WorkItem]:
    """Items newest change first; all of them (`since=None`) or those changed at or after
    `since`. Items equal to the watermark are yielded again on purpose: two items can
    share a timestamp, and seeing one twice is cheaper than missing one."""
    seen: set[str] = set()
    cursor: str | None = None
    while True:
        page = await tracker.items_page(project_id, cursor=cursor, per_page=per_page)
        for item in page.items:
            if since is not None and item.updated_at < since:
                return
            if item.id not in seen:  # rows shift between offset pages
                seen.add(item.id)
                yield item
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
