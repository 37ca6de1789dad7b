"""The in-memory SyncStore, with SqliteSyncStore's behaviour."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from core.errors import (
    StorageError,
)
from core.sync.records import ItemRecord, SyncPosition


class InMemorySyncStore:
    """A SyncStore in dicts, with SqliteSyncStore's behaviour."""

    def __init__(self) -> None:
        self.items: dict[str, ItemRecord] = {}
        self.positions: dict[str, SyncPosition] = {}
        self.fail_saves = 0  # the next N saves raise StorageError

    async def records(self, project_id: str) -> dict[str, ItemRecord]:
        return {k: r for k, r in self.items.items() if r.project_id == project_id}

    async def record(self, item_id: str) -> ItemRecord | None:
        return self.items.get(item_id)

    async def save(self, record: ItemRecord, at: datetime) -> None:
        if self.fail_saves:
            self.fail_saves -= 1
            raise StorageError("disk I/O error")
        self.items[record.item_id] = record

    async def note_written(self, item_id: str, state_id: str, at: datetime) -> None:
        if (record := self.items.get(item_id)) is not None:
            self.items[item_id] = replace(record, written_state_id=state_id)

    async def forget(self, item_id: str) -> None:
        self.items.pop(item_id, None)

    async def position(self, project_id: str) -> SyncPosition:
        return self.positions.get(project_id, SyncPosition())

    async def save_position(self, project_id: str, position: SyncPosition, at: datetime) -> None:
        self.positions[project_id] = position
