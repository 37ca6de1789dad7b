"""What the reconciler remembers between ticks, and the narrow ports it works through.

An item is *followed* once it has a task: its record says which state the last
reconcile saw, and which state orch wrote itself (so that write, coming back on the next
read, is not mistaken for a person's move). Items without a task have no record.
"""

from __future__ import annotations

from collections.abc import Iterable
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

    async def note_written(self, item_id: str, state_id: str, at: datetime) -> None:
        """Remember that orch itself set the item to `state_id`."""
        ...

    async def forget(self, item_id: str) -> None:
        """Stop following an item (it was deleted in the tracker)."""
        ...

    async def position(self, project_id: str) -> SyncPosition:
        """Where the last read of a project stopped (empty for a new project)."""
        ...

    async def save_position(self, project_id: str, position: SyncPosition, at: datetime) -> None:
        ...


class DependencySink(Protocol):
    """Takes what the tracker says blocks a task (core.deps.service implements it)."""

    async def ingest_relations(self, task: Task, blocked_by_keys: Iterable[str]) -> object:
        """Make the task's tracker-sourced dependencies exactly these task keys."""
        ...


class TrackerMeter(Protocol):
    """Request counters of a tracker client (PlaneClient.stats satisfies it)."""

    @property
    def calls(self) -> int: ...

    @property
    def rate_limit_waits(self) -> int: ...

    @property
    def last_error(self) -> str | None: ...
