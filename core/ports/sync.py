"""The sync ports: what the reconciler remembers between ticks, and the hints it takes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.ratebudget import BudgetSnapshot
    from core.sync.outbox import RowStatus, WriteBackDraft, WriteBackRow
    from core.sync.records import ItemRecord, SyncPosition
    from core.sync.vanish import Pause


class ItemRecords(Protocol):
    """Followed items, as the reconciler last left them; each method one transaction."""

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

    async def note_synced(self, item_id: str, version: int, at: datetime) -> None:
        """The item's state now reflects the task at `version`."""
        ...

    async def forget(self, item_id: str) -> None:
        """Stop following an item (it was deleted in the tracker)."""
        ...


class MissingMarks(Protocol):
    """Followed items that look gone from the tracker: marked, shown, confirmed later."""

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


class SyncCursors(Protocol):
    """How far each project has been read."""

    async def position(self, project_id: str) -> SyncPosition:
        """Where the last read of a project stopped (empty for a new project)."""
        ...

    async def save_position(self, project_id: str, position: SyncPosition, at: datetime) -> None:
        """Remember where the read of a project stopped."""
        ...


class SyncStore(ItemRecords, SyncCursors, MissingMarks, Protocol):
    """The three in one store (storage.tracker_items.SqliteSyncStore), as the
    reconciler takes it."""


class WriteBackRows(Protocol):
    """Write-backs as rows (core.sync.outbox): pending → running → a terminal status."""

    async def add(self, drafts: Sequence[WriteBackDraft], at: datetime) -> int:
        """Insert pending rows (a move already queued is ignored); how many were new."""
        ...

    async def due(self, at: datetime, limit: int) -> list[WriteBackRow]:
        """Pending rows whose not_before has come, oldest first."""
        ...

    async def start(self, row_id: int, at: datetime) -> bool:
        """pending → running; False if another drain took it."""
        ...

    async def state_done(self, row_id: int, at: datetime) -> None:
        """The state part is done: a retry only posts the comment."""
        ...

    async def finish(self, row_id: int, status: RowStatus, error: str | None,
                     at: datetime) -> None:
        """running → succeeded, failed or skipped."""
        ...

    async def retry(self, row_id: int, not_before: datetime, error: str, at: datetime) -> None:
        """running → pending, one more attempt counted."""
        ...


class WriteBackLedger(Protocol):
    """What the write-back rows say as a whole."""

    async def sweep(self, at: datetime) -> int:
        """Rows left running by a dead process → failed, each with a fresh pending copy."""
        ...

    async def later_for_item(self, item_id: str, row_id: int) -> bool:
        """True if a newer open row exists for the same item (it sets the state that counts)."""
        ...

    async def open_for_task(self, task_id: int) -> bool:
        """True if the task has a pending or running row."""
        ...

    async def open_count(self) -> int:
        """Rows pending or running."""
        ...


class WriteBackStore(WriteBackRows, WriteBackLedger, Protocol):
    """Both in one store (storage.tracker_writebacks.SqliteWriteBackStore)."""


class PauseStore(Protocol):
    """Projects whose sync waits for a person (too many items vanished at once)."""

    async def open_pauses(self) -> list[Pause]:
        """Pauses not yet confirmed."""
        ...

    async def pause(self, project_id: str, identifier: str, missing: int, followed: int,
                    at: datetime) -> Pause | None:
        """Pause a project; None if it is paused already."""
        ...

    async def confirm(self, pause_id: int, by: str, at: datetime) -> Pause | None:
        """Lift an open pause; None if there is none with that id."""
        ...


class BudgetStore(Protocol):
    """Request budgets saved by name (one per API key), so a restart does not start full."""

    async def load(self, name: str) -> BudgetSnapshot | None:
        """The saved state, or None."""
        ...

    async def save(self, name: str, snapshot: BudgetSnapshot, at: datetime) -> None:
        """Replace the saved state."""
        ...


class ReconcileHints(Protocol):
    """Takes a hint that an item changed (the Reconciler implements it; the webhook
    route calls it)."""

    def hint(self, project_id: str | None, item_id: str) -> bool:
        """Queue a prompt reconcile of the item; never blocks. False if not queued."""
        ...


class DeliveryLog(Protocol):
    """Webhook deliveries already taken, per source (storage.instance.SqliteDeliveryLog):
    a sender retries on network errors, and a restart must not make a retry look new."""

    async def first_time(self, source: str, delivery_id: str, at: datetime) -> bool:
        """Record the delivery; True the first time `source` sends this id."""
        ...
