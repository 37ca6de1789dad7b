"""The sync ports: what the reconciler remembers between ticks, and the hints it takes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.sync.records import ItemRecord, SyncPosition


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

    async def note_written(self, item_id: str, state_id: str, at: datetime) -> None:
        """Remember that orch itself set the item to `state_id`."""
        ...

    async def forget(self, item_id: str) -> None:
        """Stop following an item (it was deleted in the tracker)."""
        ...


class SyncCursors(Protocol):
    """How far each project has been read."""

    async def position(self, project_id: str) -> SyncPosition:
        """Where the last read of a project stopped (empty for a new project)."""
        ...

    async def save_position(self, project_id: str, position: SyncPosition, at: datetime) -> None:
        """Remember where the read of a project stopped."""
        ...


class SyncStore(ItemRecords, SyncCursors, Protocol):
    """Both halves in one store (storage.tracker_items.SqliteSyncStore), as the
    reconciler takes it."""


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
