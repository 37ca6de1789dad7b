"""One orch per database (the lease on real SQLite, time on a ManualClock) and the webhook
deliveries remembered across restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.errors import StorageError
from core.instance.lease import (
    HEARTBEAT_EVERY_S,
    LEASE_TTL_S,
    InstanceLease,
    LeaseHeld,
    LeaseLost,
)
from storage.database import Database
from storage.instance import SqliteDeliveryLog, SqliteLeaseStore

ALIVE = {"here:100:a", "there:300:c"}


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "orch.db")
    yield database
    await database.close()


@pytest.fixture
def lease_for(db: Database, clock: ManualClock) -> Callable[[str], InstanceLease]:
    def make(holder: str) -> InstanceLease:
        host, pid, _ = holder.split(":")
        return InstanceLease(SqliteLeaseStore(db), clock, holder=holder, host=host,
                             pid=int(pid), db_path="orch.db", is_alive=ALIVE.__contains__)
    return make


async def test_a_live_holder_keeps_the_database_and_is_named(
        lease_for: Callable[[str], InstanceLease], clock: ManualClock) -> None:
    await lease_for("here:100:a").acquire()
    clock.advance(LEASE_TTL_S / 2)

    with pytest.raises(LeaseHeld) as refused:
        await lease_for("here:101:b").acquire()

    assert refused.value.holder.pid == 100 and refused.value.holder.host == "here"
    assert "(host here, pid 100, since " in str(refused.value)


async def test_a_dead_holder_is_replaced_at_once(
        lease_for: Callable[[str], InstanceLease], db: Database) -> None:
    await lease_for("here:200:dead").acquire()  # not in ALIVE: its process is gone

    await lease_for("here:100:a").acquire()

    current = await SqliteLeaseStore(db).current()
    assert current is not None and current.holder == "here:100:a"


async def test_a_holder_that_stops_beating_loses_the_lease_to_the_next(
        lease_for: Callable[[str], InstanceLease], clock: ManualClock) -> None:
    first = lease_for("there:300:c")  # alive, but on another host: only expiry frees it
    await first.acquire()
    clock.advance(LEASE_TTL_S + 1)  # no heartbeat meanwhile

    await lease_for("here:100:a").acquire()

    keeping = asyncio.create_task(first.keep())
    await asyncio.sleep(0)  # its first wait is on the clock
    clock.advance(HEARTBEAT_EVERY_S)
    with pytest.raises(LeaseLost, match="pid 100"):
        await asyncio.wait_for(keeping, 5)


async def test_the_heartbeat_keeps_a_live_holder_past_the_ttl(
        lease_for: Callable[[str], InstanceLease], clock: ManualClock) -> None:
    holder = lease_for("there:300:c")
    await holder.acquire()
    keeping = asyncio.create_task(holder.keep())
    await asyncio.sleep(0)
    for _ in range(int(3 * LEASE_TTL_S / HEARTBEAT_EVERY_S)):
        clock.advance(HEARTBEAT_EVERY_S)
        await asyncio.sleep(0.01)  # let the beat write
    try:
        with pytest.raises(LeaseHeld):
            await lease_for("here:100:a").acquire()
    finally:
        keeping.cancel()


async def test_a_released_lease_is_free_and_a_holder_may_take_its_own_again(
        lease_for: Callable[[str], InstanceLease]) -> None:
    first = lease_for("there:300:c")
    await first.acquire()
    await first.acquire()  # idempotent for the holder itself
    await first.release()

    await lease_for("here:100:a").acquire()


async def test_deliveries_are_remembered_per_source_and_across_a_restart(
        tmp_path: Path, clock: ManualClock) -> None:
    db = await Database.open(tmp_path / "orch.db")
    log = SqliteDeliveryLog(db)
    assert await log.first_time("plane", "d-1", clock.now())
    assert not await log.first_time("plane", "d-1", clock.now())
    assert await log.first_time("gitea", "d-1", clock.now())  # another sender's ids
    await db.close()

    db = await Database.open(tmp_path / "orch.db")
    try:
        log = SqliteDeliveryLog(db, keep_s=3600)
        assert not await log.first_time("plane", "d-1", clock.now())  # a retry after restart
        clock.advance(3601)
        assert await log.first_time("plane", "d-1", clock.now())  # long forgotten
    finally:
        await db.close()


class FlakyStore(SqliteLeaseStore):
    """The real store, whose next renewals fail as a busy database would."""

    failures = 0

    async def renew(self, holder: str, at: datetime, expires_at: datetime) -> bool:
        if self.failures:
            self.failures -= 1
            raise StorageError("database is locked")
        return await super().renew(holder, at, expires_at)


async def test_a_failed_heartbeat_is_tried_again_not_fatal(
        db: Database, clock: ManualClock) -> None:
    store = FlakyStore(db)
    holder = InstanceLease(store, clock, holder="there:300:c", host="there", pid=300,
                           db_path="orch.db", is_alive=ALIVE.__contains__)
    await holder.acquire()
    store.failures = 2
    keeping = asyncio.create_task(holder.keep())
    await asyncio.sleep(0)
    for _ in range(4):
        clock.advance(HEARTBEAT_EVERY_S)
        await asyncio.sleep(0.01)
    try:
        assert not keeping.done() and store.failures == 0
        current = await store.current()
        assert current is not None and current.expires_at > clock.now()  # renewed since
    finally:
        keeping.cancel()
