"""The SyncStore contract: the in-memory fake and SQLite (a real file) pass all of it, so
the reconciler's unit tests over the fake say what the running orch does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.ports import SyncStore
from core.sync.records import ItemRecord, SyncPosition
from storage.database import Database
from storage.tracker_items import SqliteSyncStore
from tests.fakes import InMemorySyncStore

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SyncStore]:
    if request.param == "memory":
        yield InMemorySyncStore()
        return
    db = await Database.open(tmp_path / "sync.db")
    try:
        yield SqliteSyncStore(db)
    finally:
        await db.close()


def record(item_id: str, project_id: str = "p-1", *, seen_state_id: str | None = None,
           seen_updated_at: datetime | None = None,
           written_state_id: str | None = None) -> ItemRecord:
    return ItemRecord(item_id, project_id, f"KEY-{item_id}", seen_state_id, seen_updated_at,
                      written_state_id)


async def test_an_unknown_item_has_no_record(store: SyncStore) -> None:
    assert await store.record("i-1") is None
    assert await store.records("p-1") == {}


async def test_a_saved_record_reads_back_whole(store: SyncStore) -> None:
    saved = record("i-1", seen_state_id="s-todo", seen_updated_at=T0,
                   written_state_id="s-done")

    await store.save(saved, T1)

    assert await store.record("i-1") == saved
    assert await store.records("p-1") == {"i-1": saved}


async def test_records_are_per_project(store: SyncStore) -> None:
    await store.save(record("i-1", "p-1"), T0)
    await store.save(record("i-2", "p-2"), T0)
    await store.save(record("i-3", "p-1"), T0)

    assert sorted(await store.records("p-1")) == ["i-1", "i-3"]
    assert list(await store.records("p-2")) == ["i-2"]


async def test_saving_again_replaces_the_record(store: SyncStore) -> None:
    await store.save(record("i-1", seen_state_id="s-todo", written_state_id="s-x"), T0)
    newer = record("i-1", seen_state_id="s-done", seen_updated_at=T1)

    await store.save(newer, T1)

    assert await store.record("i-1") == newer  # written_state_id cleared, not kept


async def test_note_written_keeps_everything_else(store: SyncStore) -> None:
    await store.save(record("i-1", seen_state_id="s-todo", seen_updated_at=T0), T0)

    await store.note_written("i-1", "s-review", T1)

    assert await store.record("i-1") == record("i-1", seen_state_id="s-todo",
                                               seen_updated_at=T0, written_state_id="s-review")


async def test_note_written_on_an_unfollowed_item_follows_nothing(store: SyncStore) -> None:
    await store.note_written("i-9", "s-review", T1)

    assert await store.record("i-9") is None


async def test_forget_stops_following_and_is_safe_to_repeat(store: SyncStore) -> None:
    await store.save(record("i-1"), T0)
    await store.save(record("i-2"), T0)

    await store.forget("i-1")
    await store.forget("i-1")

    assert await store.record("i-1") is None
    assert list(await store.records("p-1")) == ["i-2"]


async def test_a_new_project_has_an_empty_position(store: SyncStore) -> None:
    assert await store.position("p-1") == SyncPosition()


async def test_positions_read_back_per_project_and_are_replaced(store: SyncStore) -> None:
    await store.save_position("p-1", SyncPosition(watermark=T0), T0)
    await store.save_position("p-2", SyncPosition(watermark=T0, full_sync_at=T0), T0)
    await store.save_position("p-1", SyncPosition(watermark=T1, full_sync_at=T1), T1)

    assert await store.position("p-1") == SyncPosition(T1, T1)
    assert await store.position("p-2") == SyncPosition(T0, T0)
