"""SQLite adapter of core's WriteBackStore: the `tracker_writebacks` rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from core.clock import parse_iso, utc_iso
from core.sync.outbox import RowStatus, WriteBackDraft, WriteBackRow
from storage.database import Database, Tx
from storage.queries import queries

Q = queries("tracker_writebacks")


class SqliteWriteBackStore:
    """Write-back rows; each state change is one compare-and-set on the row's status."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, drafts: Sequence[WriteBackDraft], at: datetime) -> int:
        added = 0
        async with self._db.transaction() as tx:
            for draft in drafts:
                added += await _insert(tx, draft, 0, at)
        return added

    async def due(self, at: datetime, limit: int) -> list[WriteBackRow]:
        rows = await self._db.fetch_all(Q["due_rows"], {"at": utc_iso(at), "limit": limit})
        return [_row(row) for row in rows]

    async def start(self, row_id: int, at: datetime) -> bool:
        async with self._db.transaction() as tx:
            return await tx.fetch_one(Q["start_row"], {"id": row_id, "at": utc_iso(at)}) is not None

    async def state_done(self, row_id: int, at: datetime) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(Q["state_done"], {"id": row_id, "at": utc_iso(at)})

    async def finish(self, row_id: int, status: RowStatus, error: str | None,
                     at: datetime) -> None:
        params = {"id": row_id, "status": str(status), "error": error, "at": utc_iso(at)}
        async with self._db.transaction() as tx:
            await tx.execute(Q["finish_row"], params)

    async def retry(self, row_id: int, not_before: datetime, error: str, at: datetime) -> None:
        params = {"id": row_id, "not_before": utc_iso(not_before), "error": error,
                  "at": utc_iso(at)}
        async with self._db.transaction() as tx:
            await tx.execute(Q["retry_row"], params)

    async def sweep(self, at: datetime) -> int:
        async with self._db.transaction() as tx:
            stale = await tx.fetch_all(Q["stale_rows"])
            for row in stale:
                await tx.execute(Q["finish_row"], {
                    "id": row["id"], "status": str(RowStatus.FAILED),
                    "error": "orch restarted during the write-back", "at": utc_iso(at)})
                await _insert(tx, _row(row).draft, row["attempts"] + 1, at)
        return len(stale)

    async def later_for_item(self, item_id: str, row_id: int) -> bool:
        row = await self._db.fetch_one(Q["later_for_item"], {"item_id": item_id, "id": row_id})
        return row is not None

    async def open_for_task(self, task_id: int) -> bool:
        return await self._db.fetch_one(Q["open_for_task"], {"task_id": task_id}) is not None

    async def open_count(self) -> int:
        row = await self._db.fetch_one(Q["open_count"])
        return int(row[0]) if row else 0


async def _insert(tx: Tx, draft: WriteBackDraft, attempts: int, at: datetime) -> int:
    params = {"task_id": draft.task_id, "key": draft.key, "item_id": draft.item_id,
              "stage": draft.stage, "version": draft.version, "kind": draft.kind,
              "actor": draft.actor, "reason": draft.reason, "attempts": attempts,
              "at": utc_iso(at)}
    return 1 if await tx.fetch_one(Q["insert_row"], params) is not None else 0


def _row(row: sqlite3.Row) -> WriteBackRow:
    draft = WriteBackDraft(row["task_id"], row["key"], row["item_id"], row["stage"],
                           row["version"], row["kind"], row["actor"], row["reason"])
    return WriteBackRow(row["id"], draft, row["attempts"], parse_iso(row["not_before"]),
                        bool(row["state_done"]))
