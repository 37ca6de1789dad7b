"""storage/ on a real SQLite file: migrations, schema invariants, concurrency, errors."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.errors import StaleVersion, StorageError
from core.pipeline.service import PipelineService
from core.pipeline.stages import DEFAULT_PIPELINE
from core.pipeline.tasks import SYSTEM, Actor, ChangeKind, Task
from core.ports import EventDraft, TaskChange
from storage.database import Database, IntegrityViolation
from storage.tasks import SqliteTaskStore
from tests.fakes import RecordingNotifier

MIGRATION_FILES = [
    entry.name
    for entry in (resources.files("storage") / "migrations").iterdir()
    if entry.name.endswith(".sql")
]
HIGHEST = max(int(name[:4]) for name in MIGRATION_FILES)


def service_on(db: Database, clock: ManualClock) -> PipelineService:
    return PipelineService(SqliteTaskStore(db), DEFAULT_PIPELINE, clock, RecordingNotifier())


async def schema(db: Database) -> list[tuple[str, str]]:
    rows = await db.fetch_all("SELECT name, sql FROM sqlite_master ORDER BY name")
    return [(row["name"], row["sql"]) for row in rows]


async def indexes(db: Database, table: str) -> dict[str, tuple[bool, bool, list[str]]]:
    """name -> (unique, partial, columns) for every index of `table`."""
    found = {}
    for row in await db.fetch_all(f"PRAGMA index_list({table})"):
        columns = await db.fetch_all(f"PRAGMA index_info({row['name']})")
        found[row["name"]] = (
            bool(row["unique"]),
            bool(row["partial"]),
            [c["name"] for c in columns],
        )
    return found


async def insert_raw_task(db: Database, stage: str, blocked_from: str | None) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO tasks (key, repo, title, stage, blocked_from, created_at, updated_at,"
            " stage_entered_at) VALUES ('X-1', 'app', 't', ?, ?, 'now', 'now', 'now')",
            (stage, blocked_from),
        )


# --- migrations ---------------------------------------------------------------------


async def test_migrations_create_the_foundation_tables(database: Database) -> None:
    rows = await database.fetch_all(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )

    assert {row["name"] for row in rows} >= {
        "tasks",
        "task_events",
        "chat_cards",
        "counters",
        "cursors",
    }


async def test_migrations_set_user_version_to_the_highest_number(database: Database) -> None:
    assert await database.schema_version() == HIGHEST
    applied = await database.fetch_all("SELECT number FROM schema_migrations ORDER BY number")
    assert [row[0] for row in applied] == sorted(int(name[:4]) for name in MIGRATION_FILES)


async def test_a_migration_numbered_below_the_version_still_applies(db_path: Path) -> None:
    # numbers are reserved per change: a lower one may land after a higher one
    db = await Database.open(db_path)
    await db.close()
    conn = sqlite3.connect(db_path)
    conn.execute("DELETE FROM schema_migrations WHERE number = 3")
    conn.execute("DROP TABLE lessons")
    conn.commit()
    conn.close()

    again = await Database.open(db_path)
    try:
        assert await again.fetch_one("SELECT count(*) FROM lessons") is not None
        assert await again.schema_version() == HIGHEST
    finally:
        await again.close()


async def test_tracker_id_has_a_partial_unique_index(database: Database) -> None:
    assert (await indexes(database, "tasks"))["tasks_tracker_id"] == (True, True, ["tracker_id"])


async def test_task_events_are_unique_per_task_and_version(database: Database) -> None:
    found = await indexes(database, "task_events")

    assert found["task_events_task_version"] == (True, False, ["task_id", "version"])


@pytest.mark.parametrize(("stage", "blocked_from"), [("blocked", None), ("review", "development")])
async def test_schema_ties_blocked_to_blocked_from(
    database: Database, stage: str, blocked_from: str | None
) -> None:
    with pytest.raises(IntegrityViolation, match="CHECK"):
        await insert_raw_task(database, stage, blocked_from)


async def test_store_cannot_write_a_blocked_task_without_blocked_from(
    database: Database, clock: ManualClock
) -> None:
    store = SqliteTaskStore(database)
    service = PipelineService(store, DEFAULT_PIPELINE, clock, RecordingNotifier())
    task = await service.create("app", "t", SYSTEM)
    change = TaskChange("blocked", None, "oops")

    with pytest.raises(IntegrityViolation):
        await store.compare_and_set(
            task.id, 1, change, EventDraft("x", ChangeKind.BLOCKED), clock.now()
        )
    assert await service.get(task.id) == task


async def test_migrate_again_applies_nothing_and_changes_nothing(database: Database) -> None:
    before = await schema(database)

    assert await database.migrate() == 0
    assert await schema(database) == before
    assert await database.schema_version() == HIGHEST


async def test_reopening_a_migrated_file_changes_nothing(db_path: Path) -> None:
    first = await Database.open(db_path)
    before = await schema(first)
    await first.close()

    again = await Database.open(db_path)
    try:
        assert await schema(again) == before
        assert await again.migrate() == 0
    finally:
        await again.close()


# --- durability ---------------------------------------------------------------------


async def test_a_reopened_database_keeps_every_task_and_event(
    db_path: Path, clock: ManualClock
) -> None:
    db = await Database.open(db_path)
    service = service_on(db, clock)
    tasks = [await service.create("app", f"t{i}", SYSTEM, tracker_id=f"u-{i}") for i in range(3)]
    await service.approve(tasks[0].id, SYSTEM)
    await service.block(tasks[1].id, SYSTEM, "waiting")
    before = [(await service.get(t.id), await service.history(t.id)) for t in tasks]
    await db.close()

    db = await Database.open(db_path)
    try:
        service = service_on(db, clock)
        after = [(await service.get(t.id), await service.history(t.id)) for t in tasks]
    finally:
        await db.close()
    assert after == before


async def test_a_failed_transaction_leaves_nothing_behind(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with database.transaction() as tx:
            await tx.execute("INSERT INTO counters (name, value) VALUES ('c', 1)")
            raise RuntimeError("boom")

    assert await database.fetch_all("SELECT * FROM counters") == []


# --- concurrency --------------------------------------------------------------------


async def two_writers_race(first: SqliteTaskStore, second: SqliteTaskStore, task: Task) -> list:
    change = TaskChange("development", None, None)
    return await asyncio.gather(
        *(
            store.compare_and_set(
                task.id,
                task.version,
                change,
                EventDraft(name, ChangeKind.APPROVED),
                task.created_at,
            )
            for name, store in (("a", first), ("b", second))
        )
    )


async def test_cas_race_on_one_connection_has_one_winner(
    database: Database, clock: ManualClock
) -> None:
    store = SqliteTaskStore(database)
    task = await service_on(database, clock).create("app", "t", SYSTEM)

    results = await two_writers_race(store, store, task)

    assert sorted(r is None for r in results) == [False, True]
    assert [e.version for e in await store.events(task.id)] == [1, 2]


async def test_cas_race_on_two_connections_has_one_winner(
    database: Database, db_path: Path, clock: ManualClock
) -> None:
    other = await Database.open(db_path)
    try:
        task = await service_on(database, clock).create("app", "t", SYSTEM)
        results = await two_writers_race(SqliteTaskStore(database), SqliteTaskStore(other), task)
    finally:
        await other.close()

    assert sorted(r is None for r in results) == [False, True]
    assert [e.version for e in await SqliteTaskStore(database).events(task.id)] == [1, 2]


async def test_two_approvals_at_once_lose_one_with_stale_version(
    database: Database, clock: ManualClock
) -> None:
    service = service_on(database, clock)
    task = await service.create("app", "t", SYSTEM)

    results = await asyncio.gather(
        *(service.approve(task.id, Actor("telegram", who), expected_version=1) for who in "12"),
        return_exceptions=True,
    )

    assert sorted(type(r).__name__ for r in results) == ["StaleVersion", "Task"]
    assert isinstance(next(r for r in results if not isinstance(r, Task)), StaleVersion)
    assert (await service.get(task.id)).version == 2


async def test_concurrent_creates_get_distinct_keys(database: Database, clock: ManualClock) -> None:
    service = service_on(database, clock)

    tasks = await asyncio.gather(*(service.create("app", f"t{i}", SYSTEM) for i in range(25)))

    assert sorted(t.key for t in tasks) == sorted(f"ORCH-{n}" for n in range(1, 26))
    row = await database.fetch_one("SELECT value FROM counters WHERE name = 'task_key:ORCH'")
    assert row is not None and row["value"] == 25


async def test_transactions_never_interleave(database: Database) -> None:
    async def failing() -> None:
        async with database.transaction() as tx:
            await tx.execute("INSERT INTO counters (name, value) VALUES ('a', 1)")
            await asyncio.sleep(0)  # hand the loop to the other writer mid-transaction
            raise RuntimeError("boom")

    async def succeeding() -> None:
        async with database.transaction() as tx:
            await tx.execute("INSERT INTO counters (name, value) VALUES ('b', 1)")

    results = await asyncio.gather(failing(), succeeding(), return_exceptions=True)

    assert isinstance(results[0], RuntimeError) and results[1] is None
    assert [r["name"] for r in await database.fetch_all("SELECT name FROM counters")] == ["b"]


# --- errors -------------------------------------------------------------------------


CLOSED_DB_CALLS: dict[str, Callable[[PipelineService, Task], Awaitable[object]]] = {
    "get": lambda service, task: service.get(task.id),
    "list_open": lambda service, task: service.open_tasks(),
    "create": lambda service, task: service.create("app", "t2", SYSTEM),
    "advance": lambda service, task: service.advance(task.id, SYSTEM),
}


@pytest.mark.parametrize("call", CLOSED_DB_CALLS)
async def test_a_closed_database_raises_storage_error(
    db_path: Path, clock: ManualClock, call: str
) -> None:
    db = await Database.open(db_path)
    service = service_on(db, clock)
    task = await service.create("app", "t", SYSTEM)
    await db.close()

    with pytest.raises(StorageError) as caught:
        await CLOSED_DB_CALLS[call](service, task)
    assert not isinstance(caught.value, sqlite3.Error | ValueError)


@pytest.fixture
def garbage_file(db_path: Path) -> Path:
    db_path.write_bytes(b"this is not an sqlite file" * 100)
    return db_path


async def test_a_file_that_is_not_a_database_raises_storage_error(garbage_file: Path) -> None:
    # (A path sqlite cannot open at all is not tested: aiosqlite 0.22 then leaves its
    # worker thread to report to a loop that may be closed, a warning pytest turns fatal.)
    with pytest.raises(StorageError, match="not a database"):
        await Database.open(garbage_file)
