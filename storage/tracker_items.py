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
            "synced_version": record.synced_version,
            "missing_since": _iso(record.missing_since),
            "missing_checked_at": _iso(record.missing_checked_at),
            "at": utc_iso(at),
        }
        async with self._db.transaction() as tx:
            await tx.execute(Q["save_item"], params)

    async def note_written(self, item_id: str, state_id: str, at: datetime,
                           version: int = 0) -> None:
        params = {"item_id": item_id, "state_id": state_id, "at": utc_iso(at),
                  "version": version}
        async with self._db.transaction() as tx:
            await tx.execute(Q["note_written"], params)

    async def note_synced(self, item_id: str, version: int, at: datetime) -> None:
        params = {"item_id": item_id, "version": version, "at": utc_iso(at)}
        async with self._db.transaction() as tx:
            await tx.execute(Q["note_synced"], params)

    async def mark_missing(self, item_id: str, since: datetime,
                           checked_at: datetime | None, at: datetime) -> None:
        params = {"item_id": item_id, "since": utc_iso(since), "checked_at": _iso(checked_at),
                  "at": utc_iso(at)}
        async with self._db.transaction() as tx:
            await tx.execute(Q["mark_missing"], params)

    async def clear_missing(self, item_id: str, at: datetime) -> bool:
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(Q["clear_missing"], {"item_id": item_id, "at": utc_iso(at)})
        return row is not None

    async def missing(self) -> list[ItemRecord]:
        return [_record(row) for row in await self._db.fetch_all(Q["missing_items"])]

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
        synced_version=row["synced_version"],
        missing_since=_time(row["missing_since"]),
        missing_checked_at=_time(row["missing_checked_at"]),
    )


def _iso(moment: datetime | None) -> str | None:
    return utc_iso(moment) if moment is not None else None


def _time(text: str | None) -> datetime | None:
    return parse_iso(text) if text else None
