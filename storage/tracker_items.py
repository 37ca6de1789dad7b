"""SQLite adapter of core's SyncStore: followed tracker items and per-project positions."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from core.clock import parse_iso, utc_iso
from core.sync.records import ItemRecord, SyncPosition
from storage.database import Database
from storage.queries import queries

Q = queries("tracker")


class SqliteSyncStore:
    """What the reconciler remembers, in the `tracker_items` and `tracker_projects` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def records(self, project_id: str) -> dict[str, ItemRecord]:
        rows = await self._db.fetch_all(Q["items_of_project"], {"project_id": project_id})
        return {row["item_id"]: _record(row) for row in rows}

    async def record(self, item_id: str) -> ItemRecord | None:
        row = await self._db.fetch_one(Q["get_item"], {"item_id": item_id})
        return _record(row) if row else None

    async def save(self, record: ItemRecord, at: datetime) -> None:
        params = {
            "item_id": record.item_id,
            "project_id": record.project_id,
            "key": record.key,
            "seen_state_id": record.seen_state_id,
            "seen_updated_at": _iso(record.seen_updated_at),
            "written_state_id": record.written_state_id,
            "at": utc_iso(at),
        }
        async with self._db.transaction() as tx:
            await tx.execute(Q["save_item"], params)

    async def note_written(self, item_id: str, state_id: str, at: datetime) -> None:
        params = {"item_id": item_id, "state_id": state_id, "at": utc_iso(at)}
        async with self._db.transaction() as tx:
            await tx.execute(Q["note_written"], params)

    async def forget(self, item_id: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(Q["forget_item"], {"item_id": item_id})

    async def position(self, project_id: str) -> SyncPosition:
        row = await self._db.fetch_one(Q["get_position"], {"project_id": project_id})
        if row is None:
            return SyncPosition()
        return SyncPosition(_time(row["watermark"]), _time(row["full_sync_at"]))

    async def save_position(self, project_id: str, position: SyncPosition, at: datetime) -> None:
        params = {
            "project_id": project_id,
            "watermark": _iso(position.watermark),
            "full_sync_at": _iso(position.full_sync_at),
            "at": utc_iso(at),
        }
        async with self._db.transaction() as tx:
            await tx.execute(Q["save_position"], params)


def _record(row: sqlite3.Row) -> ItemRecord:
    return ItemRecord(
        item_id=row["item_id"],
        project_id=row["project_id"],
        key=row["key"],
        seen_state_id=row["seen_state_id"],
        seen_updated_at=_time(row["seen_updated_at"]),
        written_state_id=row["written_state_id"],
    )


def _iso(moment: datetime | None) -> str | None:
    return utc_iso(moment) if moment is not None else None


def _time(text: str | None) -> datetime | None:
    return parse_iso(text) if text else None
