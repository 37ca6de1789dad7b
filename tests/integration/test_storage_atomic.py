"""Database.atomic(): a handler's writes as one transaction, joined only by its own task."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.errors import StorageError
from storage.database import Database, Rider, riding


class Boom(Exception):
    pass


async def notes(db: Database) -> list[str]:
    return [r[0] for r in await db.fetch_all("SELECT text FROM scratch ORDER BY rowid")]


@pytest.fixture
async def db(database: Database) -> Database:
    async with database.transaction() as tx:
        await tx.execute("CREATE TABLE scratch (text TEXT NOT NULL)")
    return database


async def write(db: Database, text: str) -> None:
    async with db.transaction() as tx:
        await tx.execute("INSERT INTO scratch (text) VALUES (?)", (text,))


async def test_the_writes_of_a_unit_commit_together_or_not_at_all(db: Database) -> None:
    with pytest.raises(Boom):
        async with db.atomic():
            await write(db, "change")
            assert await notes(db) == ["change"]  # its own reads see its writes
            raise Boom()  # a crash before the reply: the change goes too
    assert await notes(db) == []

    async with db.atomic():
        await write(db, "change")
        await write(db, "reply")
    assert await notes(db) == ["change", "reply"]


async def test_a_failed_block_inside_a_unit_undoes_only_itself(db: Database) -> None:
    async with db.atomic():
        await write(db, "kept")
        with pytest.raises(Boom):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO scratch (text) VALUES ('undone')")
                raise Boom()
        await write(db, "also kept")
    assert await notes(db) == ["kept", "also kept"]


async def test_other_tasks_never_join_a_unit_they_wait_for_it(db: Database) -> None:
    started = asyncio.Event()
    others: list[asyncio.Task[None]] = []

    async def other() -> None:
        started.set()
        await write(db, "other")  # joined by mistake, it would be undone with the unit

    with pytest.raises(Boom):
        async with db.atomic():
            await write(db, "unit")
            # a task started inside the unit inherits its context, yet is not part of it
            others.append(asyncio.create_task(other()))
            await started.wait()
            raise Boom()
    await asyncio.gather(*others)
    assert await notes(db) == ["other"]


async def test_the_claims_own_transaction_is_refused_inside_a_unit(db: Database) -> None:
    async with db.atomic():
        with pytest.raises(StorageError, match="not in atomic"):
            await db.call(lambda conn: None)


async def test_another_database_is_never_part_of_a_unit(db: Database, tmp_path: Path) -> None:
    other = await Database.open(tmp_path / "other.db")
    try:
        async with other.transaction() as tx:
            await tx.execute("CREATE TABLE scratch (text TEXT NOT NULL)")
        with pytest.raises(Boom):
            async with db.atomic():
                await write(db, "undone")
                await write(other, "kept")  # its own transaction, on its own file
                raise Boom()
        assert await notes(db) == [] and await notes(other) == ["kept"]
    finally:
        await other.close()


async def test_an_updates_mark_rides_only_its_own_databases_write(db: Database,
                                                                 tmp_path: Path) -> None:
    other = await Database.open(tmp_path / "other.db")
    try:
        async with other.transaction() as tx:
            await tx.execute("CREATE TABLE scratch (text TEXT NOT NULL)")
        rider = Rider("INSERT INTO scratch (text) VALUES ('mark')", (), database=db)
        with riding(rider):
            await write(other, "elsewhere")
            assert not rider.done  # not the write it marks
            await write(db, "change")
        assert rider.done
        assert await notes(db) == ["change", "mark"] and await notes(other) == ["elsewhere"]
    finally:
        await other.close()
