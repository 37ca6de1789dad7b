"""SQLite adapter of the chat inbox: updates kept until handled."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from core.clock import utc_iso
from storage.database import Database, Rider, riding
from storage.queries import queries

Q = queries("chat")


class SqliteInbox:
    """Implements InboxStore; also remembers who wrote, for "approved by Lena"."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, updates: Sequence[dict[str, Any]], at: datetime) -> Sequence[int]:
        new: list[int] = []
        async with self._db.transaction() as tx:
            for update in updates:
                update_id = int(update["update_id"])
                changed = await tx.execute(Q["inbox_put"], {
                    "update_id": update_id, "payload": json.dumps(update),
                    "at": utc_iso(at)})
                if changed:
                    new.append(update_id)
                person = _sender(update)
                if person:
                    await tx.execute(Q["person_put"], {"user_id": person[0],
                                                       "name": person[1]})
        return new

    async def pending(self, limit: int) -> Sequence[tuple[int, dict[str, Any]]]:
        rows = await self._db.fetch_all(Q["inbox_pending"], {"limit": limit})
        return [(int(r[0]), json.loads(r[1])) for r in rows]

    async def next_offset(self) -> int:
        row = await self._db.fetch_one(Q["inbox_next_offset"])
        return int(row[0]) if row else 0

    async def mark_handled(self, update_id: int, at: datetime) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(Q["inbox_handled"], {"update_id": update_id, "at": utc_iso(at)})

    @contextmanager
    def handling(self, update_id: int, at: datetime) -> Iterator[object]:
        rider = Rider(Q["inbox_handled"], {"update_id": update_id, "at": utc_iso(at)},
                      database=self._db)
        with riding(rider):
            yield rider


def _sender(update: dict[str, Any]) -> tuple[int, str] | None:
    for kind in ("message", "callback_query", "edited_message"):
        person = (update.get(kind) or {}).get("from")
        if person and "id" in person:
            name = person.get("first_name") or person.get("username") or str(person["id"])
            return int(person["id"]), str(name)
    return None
