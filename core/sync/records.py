"""What the reconciler remembers between ticks, and the narrow ports it works through.

An item is *followed* once it has a task: its record says which state the last
reconcile saw, and which state orch wrote itself (so that write, coming back on the next
read, is not mistaken for a person's move). Items without a task have no record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.pipeline.tasks import Task


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


class SyncStore(Protocol):
    """Item records and per-project positions; every method is one small transaction."""

    async def records(self, project_id: str) -> dict[str, ItemRecord]:
        """Every followed item of a project, by item id."""
        ...

    async def record(self, item_id: str) -> ItemRecord | None:
        """One followed item, or None if orch does not follow it."""
        ...

    async def save(self, record: ItemRecord, at: datetime) -> None:
        """Insert or replace a record."""
        ...

    async def note_written(self, item_id: str, state_id: str, at: datetime,
                           version: int = 0) -> None:
        """Remember that orch itself set the item to `state_id` for the task's `version`."""
        ...

    async def forget(self, item_id: str) -> None:
        """Stop following an item (it was deleted in the tracker)."""
        ...

    async def note_synced(self, item_id: str, version: int, at: datetime) -> None:
        """The item's state now reflects the task at `version`."""
        ...

    async def mark_missing(self, item_id: str, since: datetime,
                           checked_at: datetime | None, at: datetime) -> None:
        """Remember that the item looks gone (and since when it was confirmed once)."""
        ...

    async def clear_missing(self, item_id: str, at: datetime) -> bool:
        """The item is back; True if it had been marked missing."""
        ...

    async def missing(self) -> list[ItemRecord]:
        """Every followed item marked missing, oldest mark first."""
        ...

    async def position(self, project_id: str) -> SyncPosition:
        """Where the last read of a project stopped (empty for a new project)."""
        ...

    async def save_position(self, project_id: str, position: SyncPosition, at: datetime) -> None:
        ...


@dataclass(frozen=True, slots=True)
class ItemBlocker:
    """A tracker item without a task that blocks a task: waited for by its state group."""

    item_id: str
    key: str
    group: str
    released: bool


class DependencySink(Protocol):
    """Takes what the tracker says blocks a task (core.deps.service implements it)."""

    async def ingest_relations(self, task: Task, blocked_by_keys: Iterable[str],
                               blocked_by_items: Iterable[ItemBlocker] = ()) -> object:
        """Make the task's tracker-sourced dependencies exactly these task keys and items."""
        ...

    async def open_item_blockers(self) -> set[str]:
        """Ids of tracker items that some task still waits for."""
        ...

    async def item_moved(self, item_id: str, group: str, released: bool) -> Sequence[Task]:
        """A blocking item changed group; the tasks released by it, announced once."""
        ...

    async def release_ready(self) -> Sequence[Task]:
        """Announce every task whose last dependency is met; once each."""
        ...


class TrackerMeter(Protocol):
    """Request counters of a tracker client (PlaneClient.stats satisfies it)."""

    @property
    def calls(self) -> int: ...

    @property
    def rate_limit_waits(self) -> int: ...

    @property
    def last_error(self) -> str | None: ...
