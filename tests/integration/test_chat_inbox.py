"""The inbox over real SQLite: kept before confirmed, handled once, in order, per lane."""

from __future__ import annotations

import asyncio
from typing import Any

from core.chat.inbox import Inbox
from core.chat.model import RowKind
from core.clock import ManualClock
from core.pipeline.service import PipelineService
from core.pipeline.stages import DEFAULT_PIPELINE
from core.pipeline.tasks import Actor
from core.ports import NotifierHub
from storage.chat_inbox import SqliteInbox
from storage.chat_outbox import SqliteOutbox
from storage.database import Database
from storage.tasks import SqliteTaskStore
from tests.fakes.chat import Killed

LEAD = Actor("telegram", "1", "lead")


def update(n: int, text: str) -> dict[str, Any]:
    return {"update_id": n, "message": {"text": text, "from": {"id": 1, "first_name": "Lead"}}}


async def by_text(payload: dict[str, Any]) -> frozenset[str]:
    words = payload["message"]["text"].split()
    return frozenset(w for w in words if "-" in w)


async def pending(db: Database) -> list[int]:
    return [r[0] for r in await db.fetch_all(
        "SELECT update_id FROM chat_inbox WHERE handled_at IS NULL ORDER BY update_id")]


async def test_an_update_is_kept_before_its_offset_moves(database: Database,
                                                        clock: ManualClock) -> None:
    seen: list[int] = []

    async def handler(payload: dict[str, Any]) -> None:
        seen.append(payload["update_id"])

    inbox = Inbox(SqliteInbox(database), handler, by_text, clock)
    assert await inbox.next_offset() == 0
    await inbox.receive([update(7, "/help"), update(8, "/queue"), update(7, "/help")])
    assert await inbox.next_offset() == 9
    await inbox.drain()
    assert sorted(seen) == [7, 8] and await pending(database) == []
    await inbox.receive([update(8, "/queue")])  # Telegram sent it again: handled once
    await inbox.drain()
    assert sorted(seen) == [7, 8]


async def test_the_change_and_the_handled_mark_commit_together(database: Database,
                                                               clock: ManualClock) -> None:
    pipeline = PipelineService(SqliteTaskStore(database), DEFAULT_PIPELINE, clock, NotifierHub())
    kills = {1, 2}

    async def handler(payload: dict[str, Any]) -> None:
        update_id = payload["update_id"]
        if update_id == 2 and update_id in kills:
            kills.discard(update_id)
            raise Killed()  # dies before it changed anything
        await pipeline.create("api", payload["message"]["text"], LEAD)
        if update_id in kills:
            kills.discard(update_id)
            raise Killed()  # dies after the change, before its reply

    store = SqliteInbox(database)
    inbox = Inbox(store, handler, by_text, clock)
    await store.put([update(1, "first"), update(2, "second")], clock.now())
    await inbox.resume()
    results = await asyncio.gather(*inbox._running.values(), return_exceptions=True)
    assert all(isinstance(r, Killed) for r in results)
    assert await pending(database) == [2]  # 1 is marked with its task, 2 never ran
    restarted = Inbox(store, handler, by_text, clock)
    await restarted.resume()
    await restarted.drain()
    titles = [t.title for t in await pipeline.open_tasks()]
    assert sorted(titles) == ["first", "second"]  # each once


async def test_a_change_and_its_reply_in_one_unit_are_never_half_kept(
        database: Database, clock: ManualClock) -> None:
    # /new's way: the task and its "Created" reply in one atomic() unit, with the mark
    pipeline = PipelineService(SqliteTaskStore(database), DEFAULT_PIPELINE, clock, NotifierHub())
    outbox = SqliteOutbox(database)
    kills = {1}

    async def handler(payload: dict[str, Any]) -> None:
        async with database.atomic():
            task = await pipeline.create("api", payload["message"]["text"], LEAD)
            if payload["update_id"] in kills:
                kills.clear()
                raise Killed()  # dies after the change, before its reply
            await outbox.add(RowKind.REPLY, clock.now(), body=f"Created {task.key}",
                             reply_to=payload["update_id"])

    store = SqliteInbox(database)
    inbox = Inbox(store, handler, by_text, clock)
    await store.put([update(1, "first")], clock.now())
    await inbox.resume()
    results = await asyncio.gather(*inbox._running.values(), return_exceptions=True)
    assert all(isinstance(r, Killed) for r in results)
    assert await pending(database) == [1]  # nothing kept: no task, no reply, no mark
    assert await pipeline.open_tasks() == []

    restarted = Inbox(store, handler, by_text, clock)
    await restarted.resume()
    await restarted.drain()
    replies = await database.fetch_all("SELECT body FROM chat_outbox WHERE kind = 'reply'")
    assert [t.title for t in await pipeline.open_tasks()] == ["first"]
    assert [r[0] for r in replies] == ["Created ORCH-1"] and await pending(database) == []


async def test_updates_about_one_task_run_in_order_others_alongside(
        database: Database, clock: ManualClock) -> None:
    log: list[str] = []
    gate = asyncio.Event()

    async def handler(payload: dict[str, Any]) -> None:
        text = payload["message"]["text"]
        log.append(f"start {text}")
        if text == "slow ORCH-1":
            await gate.wait()
        log.append(f"end {text}")

    inbox = Inbox(SqliteInbox(database), handler, by_text, clock)
    await inbox.receive([update(1, "slow ORCH-1"), update(2, "then ORCH-1"),
                         update(3, "other ORCH-2")])
    for _ in range(20):
        await asyncio.sleep(0)
    assert "end other ORCH-2" in log and "start then ORCH-1" not in log
    gate.set()
    await inbox.drain()
    assert log.index("end slow ORCH-1") < log.index("start then ORCH-1")
