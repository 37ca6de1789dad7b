"""SQLite adapters of the chat courier's ports: the outbox, the cards, the budget."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

from core.chat.model import LessonRetirement, OutRow, Retirement, RowKind, ShownCard
from core.clock import parse_iso, utc_iso
from core.pipeline.tasks import ChangeKind, Task, TaskEvent
from core.ports.chat import Mark
from storage.database import Database, Tx
from storage.queries import queries

Q = queries("chat")
COUNTER = "chat."


class SqliteOutbox:
    """Implements OutboxStore: every state change of a row is one statement."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, kind: RowKind, at: datetime, *, chat_id: int | None = None,
                  body: str | None = None, markup: str | None = None,
                  reply_to: int | None = None, edit_message_id: int | None = None,
                  task_id: int | None = None, once_per_s: float | None = None,
                  lesson: tuple[int, int] | None = None) -> int | None:
        lesson_id, version = lesson if lesson is not None else (None, None)
        async with self._db.transaction() as tx:
            if once_per_s is not None:
                since = utc_iso(at - timedelta(seconds=once_per_s))
                row = await tx.fetch_one(Q["outbox_add_once"], {
                    "kind": kind.value, "chat_id": chat_id, "body": body, "at": utc_iso(at),
                    "since": since, "reply_to": reply_to})
            else:
                row = await tx.fetch_one(Q["outbox_add"], {
                    "kind": kind.value, "chat_id": chat_id, "task_id": task_id,
                    "reply_to": reply_to, "edit_message_id": edit_message_id, "body": body,
                    "markup": markup, "lesson_id": lesson_id, "version": version,
                    "at": utc_iso(at)})
        return int(row[0]) if row else None

    async def open_count(self) -> int:
        row = await self._db.fetch_one(Q["outbox_open_count"])
        return int(row[0]) if row else 0

    async def open_rows(self, limit: int) -> Sequence[OutRow]:
        return [_row(r) for r in await self._db.fetch_all(Q["outbox_open"], {"limit": limit})]

    async def prune(self, before: datetime) -> int:
        """Forget settled rows older than `before` (digests after the pushes they hold)."""
        removed = 0
        async with self._db.transaction() as tx:
            for _ in range(2):
                removed += await tx.execute(Q["outbox_prune"], {"before": utc_iso(before)})
            await tx.execute(Q["inbox_prune"], {"before": utc_iso(before)})
        return removed

    async def recover(self) -> Sequence[OutRow]:
        async with self._db.transaction() as tx:
            rows = [_row(r) for r in await tx.fetch_all(Q["outbox_suspects"])]
            if rows:
                await tx.execute(Q["outbox_reopen_suspects"])
                await _count(tx, "maybe_twice", len(rows))
        return rows

    async def begin(self, row_id: int | None, at: datetime, *, group: bool,
                    card_of: Task | None = None) -> int:
        async with self._db.transaction() as tx:
            if card_of is not None:
                row = await tx.fetch_one(Q["outbox_begin_card"], {
                    "task_id": card_of.id, "version": card_of.version, "at": utc_iso(at)})
                assert row is not None
                row_id = int(row[0])
            else:
                await tx.execute(Q["outbox_begin"], {"id": row_id})
            if group:
                await _spend(tx, at)
        assert row_id is not None
        return row_id

    async def sent(self, row_id: int, message_id: int | None, at: datetime, *,
                   live_buttons: bool, card: ShownCard | None = None,
                   mark: tuple[int, Mark] | None = None) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(Q["outbox_sent"], {"id": row_id, "message_id": message_id,
                                                "at": utc_iso(at), "live": int(live_buttons)})
            if card is not None:
                await _save_card(tx, card, at)
            if mark is not None:
                await _put_marks(tx, [mark])

    async def reopen(self, row_id: int, not_before: datetime | None, *, give_up: bool) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(Q["outbox_reopen"], {
                "id": row_id, "give_up": int(give_up),
                "not_before": utc_iso(not_before) if not_before else None})

    async def skip(self, row_ids: Sequence[int], marks: Sequence[tuple[int, Mark]]) -> None:
        async with self._db.transaction() as tx:
            await tx.execute_many(Q["outbox_skip"], [{"id": i} for i in row_ids])
            await _put_marks(tx, marks)

    async def fold(self, row_ids: Sequence[int], body: str, at: datetime,
                   marks: Sequence[tuple[int, Mark]]) -> int:
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(Q["outbox_add_digest"], {"body": body, "at": utc_iso(at)})
            assert row is not None
            await tx.execute_many(Q["outbox_fold"], [{"id": i, "digest": row[0]}
                                                     for i in row_ids])
            await _put_marks(tx, marks)
        return int(row[0])

    async def spend(self, at: datetime) -> None:
        async with self._db.transaction() as tx:
            await _spend(tx, at)

    async def sends_since(self, since: datetime) -> Sequence[datetime]:
        rows = await self._db.fetch_all(Q["sends_since"], {"since": utc_iso(since)})
        return [parse_iso(r[0]) for r in rows]

    async def marks(self) -> dict[int, Mark]:
        rows = await self._db.fetch_all(Q["marks"])
        return {r["task_id"]: (ChangeKind(r["kind"]), r["stage"]) for r in rows}

    async def retirements(self, limit: int) -> Sequence[Retirement]:
        rows = await self._db.fetch_all(Q["retirements"], {"limit": limit})
        return [Retirement(_row(r), _next_event(r), r["who"],
                           parse_iso(r["n_at"]) if r["n_at"] else None) for r in rows]

    async def retired(self, row_id: int) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(Q["retired"], {"id": row_id})

    async def lesson_retirements(self, limit: int) -> Sequence[LessonRetirement]:
        rows = await self._db.fetch_all(Q["lesson_retirements"], {"limit": limit})
        return [LessonRetirement(_row(r), r["l_status"],
                                 parse_iso(r["l_at"]) if r["l_at"] else None) for r in rows]

    async def lesson_shown(self, lesson_id: int, version: int, message_id: int) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(Q["lesson_shown"], {"lesson_id": lesson_id, "version": version,
                                                 "message_id": message_id})

    async def count(self, name: str, n: int = 1) -> None:
        async with self._db.transaction() as tx:
            await _count(tx, name, n)

    async def counters(self) -> dict[str, int]:
        rows = await self._db.fetch_all(Q["counters"])
        return {r["name"].removeprefix(COUNTER): int(r["value"]) for r in rows}


class SqliteCards:
    """Implements CardStore over chat_cards (one message per task)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, task_id: int) -> ShownCard | None:
        row = await self._db.fetch_one(Q["card_get"], {"task_id": task_id})
        return ShownCard(*row) if row else None

    async def save(self, card: ShownCard, at: datetime) -> None:
        async with self._db.transaction() as tx:
            await _save_card(tx, card, at)

    async def changed_since_shown(self, limit: int) -> Sequence[int]:
        return [r[0] for r in await self._db.fetch_all(Q["cards_changed"], {"limit": limit})]


async def _spend(tx: Tx, at: datetime) -> None:
    await tx.execute(Q["spend"], {"at": utc_iso(at)})
    await tx.execute(Q["forget_old_sends"], {"before": utc_iso(at - timedelta(hours=1))})


async def _count(tx: Tx, name: str, n: int) -> None:
    await tx.execute(Q["count"], {"name": COUNTER + name, "n": n})


async def _save_card(tx: Tx, card: ShownCard, at: datetime) -> None:
    await tx.execute(Q["card_save"], {
        "task_id": card.task_id, "message_id": card.message_id,
        "shown_version": card.shown_version, "content_hash": card.content_hash,
        "at": utc_iso(at)})


async def _put_marks(tx: Tx, marks: Sequence[tuple[int, Mark]]) -> None:
    await tx.execute_many(Q["put_mark"], [
        {"task_id": task_id, "kind": kind.value, "stage": stage}
        for task_id, (kind, stage) in marks])


def _row(r: sqlite3.Row) -> OutRow:
    event = None
    if r["event_id"] is not None and r["e_kind"] is not None:
        event = TaskEvent(r["event_id"], r["task_id"], r["e_key"], parse_iso(r["e_at"]),
                          r["e_actor"], ChangeKind(r["e_kind"]), r["e_from"], r["e_to"],
                          r["version"], r["e_reason"])
    return OutRow(
        id=r["id"], kind=RowKind(r["kind"]), chat_id=r["chat_id"], task_id=r["task_id"],
        version=r["version"], reply_to=r["reply_to"], edit_message_id=r["edit_message_id"],
        body=r["body"], markup=r["markup"], attempts=r["attempts"],
        not_before=parse_iso(r["not_before"]) if r["not_before"] else None, event=event,
        message_id=r["message_id"], lesson_id=r["lesson_id"])


def _next_event(r: sqlite3.Row) -> TaskEvent | None:
    if r["n_id"] is None:
        return None
    return TaskEvent(r["n_id"], r["task_id"], r["e_key"], parse_iso(r["n_at"]), r["n_actor"],
                     ChangeKind(r["n_kind"]), r["n_from"], r["n_to"], r["n_version"],
                     r["n_reason"])
