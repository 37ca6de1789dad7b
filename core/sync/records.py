"""What the reconciler remembers between ticks, and the narrow ports it works through.

An item is *followed* once it has a task: its record says which state the last
reconcile saw, and which state orch wrote itself (so that write, coming back on the next
read, is not mistaken for a person's move). Items without a task have no record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """One followed item, as the reconciler last left it."""

    item_id: str
    project_id: str
    key: str
    seen_state_id: str | None = None
    seen_updated_at: datetime | None = None
    written_state_id: str | None = None
    # the task version the item's state reflects: a task that moved past it owes a write
    synced_version: int | None = None
    # the item looked gone (a 404, or absent from a listing) since then: shown, not acted on
    missing_since: datetime | None = None
    # the first full resync that found it absent and 404: a second one later confirms
    missing_checked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SyncPosition:
    """How far a project has been read: the newest `updated_at` and the last full scan."""

    watermark: datetime | None = None
    full_sync_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ItemBlocker:
    """A tracker item without a task that blocks a task: waited for by its state group."""

    item_id: str
    key: str
    group: str
    released: bool
