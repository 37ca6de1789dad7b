"""SQLite adapter of core's PauseStore: projects whose sync waits for a person."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from core.clock import parse_iso, utc_iso
from core.sync.vanish import Pause
from storage.database import Database
from storage.queries import queries

Q = queries("tracker_pauses")


class SqlitePauseStore:
    """The `tracker_pauses` table: at most one open pause per project (a partial index)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def open_pauses(self) -> list[Pause]:
        return [_pause(row) for row in await self._db.fetch_all(Q["open_pauses"])]

    async def pause(self, project_id: str, identifier: str, missing: int, followed: int,
                    at: datetime) -> Pause | None:
        params = {"project_id": project_id, "identifier": identifier, "missing": missing,
                  "followed": followed, "at": utc_iso(at)}
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(Q["insert_pause"], params)
        return _pause(row) if row else None

    async def confirm(self, pause_id: int, by: str, at: datetime) -> Pause | None:
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(Q["confirm_pause"],
                                     {"id": pause_id, "by": by, "at": utc_iso(at)})
        return _pause(row) if row else None


def _pause(row: sqlite3.Row) -> Pause:
    confirmed = row["confirmed_at"]
    return Pause(row["id"], row["project_id"], row["identifier"], row["missing"],
                 row["followed"], parse_iso(row["created_at"]),
                 parse_iso(confirmed) if confirmed else None)
