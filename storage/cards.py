"""Which Telegram message shows which task, and small named cursors."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from core.clock import utc_iso
from storage.database import Database
from storage.queries import queries

Q = queries("cards")


@dataclass(frozen=True, slots=True)
class Card:
    task_id: int
    chat_id: int
    message_id: int
    shown_version: int
    content_hash: str


class CardStore:
    """The chat cards: one message per task, and what it shows now."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, task_id: int) -> Card | None:
        row = await self._db.fetch_one(Q["get_card"], {"task_id": task_id})
        return _card(row) if row else None

    async def by_message(self, chat_id: int, message_id: int) -> Card | None:
        row = await self._db.fetch_one(
            Q["card_by_message"], {"chat_id": chat_id, "message_id": message_id})
        return _card(row) if row else None

    async def save(self, card: Card, at: datetime) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(Q["upsert_card"], {
                "task_id": card.task_id, "chat_id": card.chat_id, "message_id": card.message_id,
                "shown_version": card.shown_version, "content_hash": card.content_hash,
                "at": utc_iso(at),
            })


class CursorStore:
    """Named positions that must survive a restart (e.g. the notifier's last event)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, name: str, default: str = "") -> str:
        row = await self._db.fetch_one(Q["get_cursor"], {"name": name})
        return str(row[0]) if row else default

    async def set(self, name: str, value: str, at: datetime) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(Q["set_cursor"], {"name": name, "value": value, "at": utc_iso(at)})


def _card(row: sqlite3.Row) -> Card:
    return Card(row["task_id"], row["chat_id"], row["message_id"], row["shown_version"],
                row["content_hash"])
