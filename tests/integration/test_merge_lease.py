"""The merge lease in SQLite: one holder per repository, expiry, takeover, renewal."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from core.pipeline.tasks import ChangeKind
from core.ports import EventDraft, TaskDraft
from storage.database import Database
from storage.merge import SqliteMergeLeaseStore
from storage.tasks import SqliteTaskStore

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
TTL = 60.0


async def tasks_in(db: Database, count: int) -> list[int]:
    store = SqliteTaskStore(db)
    ids = []
    for n in range(count):
        applied = await store.create(TaskDraft("api", f"t{n}", "merge"),
                                     EventDraft("test", ChangeKind.CREATED), T0)
        ids.append(applied.task.id)
    return ids


async def test_a_busy_lease_names_its_holder_and_a_dead_one_expires(database: Database) -> None:
    a, b = await tasks_in(database, 2)
    leases = SqliteMergeLeaseStore(database)
    first = await leases.acquire("api", a, "ORCH-1", "proc-1", T0, TTL)
    busy = await leases.acquire("api", b, "ORCH-2", "proc-1", T0 + timedelta(seconds=59), TTL)
    assert first.granted and not busy.granted
    assert busy.lease.task_key == "ORCH-1" and busy.lease.expires_at == T0 + timedelta(seconds=60)
    other_repo = await leases.acquire("web", b, "ORCH-2", "proc-1", T0, TTL)
    assert other_repo.granted

    later = T0 + timedelta(seconds=61)  # proc-1 died while holding api's lease
    taken = await leases.acquire("api", b, "ORCH-2", "proc-2", later, TTL)
    assert taken.granted and taken.lease.task_id == b
    assert not await leases.renew("api", a, later, TTL)  # the dead holder cannot come back
    assert not await leases.release("api", a, later, "done")
    assert [(x.repo, x.task_id) for x in await leases.held(later)] == [("api", b)]  # web expired


async def test_renewal_keeps_it_and_notes_the_phase(database: Database) -> None:
    (a,) = await tasks_in(database, 1)
    leases = SqliteMergeLeaseStore(database)
    await leases.acquire("api", a, "ORCH-1", "p", T0, TTL)
    t1 = T0 + timedelta(seconds=50)
    assert await leases.renew("api", a, t1, TTL, phase="re-testing")
    t2 = T0 + timedelta(seconds=100)
    assert await leases.renew("api", a, t2, TTL, phase="re-testing")
    (held,) = await leases.held(t2)
    assert held.phase == "re-testing" and held.phase_since == t1
    assert held.expires_at == t2 + timedelta(seconds=TTL)
    assert await leases.sweep(t2) == []
    swept = await leases.sweep(t2 + timedelta(seconds=TTL))
    assert [lease.task_id for lease in swept] == [a]
    assert await leases.held(t2) == []


async def test_the_same_task_adopts_its_own_lease_after_a_restart(database: Database) -> None:
    (a,) = await tasks_in(database, 1)
    leases = SqliteMergeLeaseStore(database)
    await leases.acquire("api", a, "ORCH-1", "dead-proc", T0, TTL)
    again = await leases.acquire("api", a, "ORCH-1", "new-proc", T0 + timedelta(seconds=5), TTL)
    assert again.granted and again.lease.owner == "new-proc"
    assert len(await leases.held(T0 + timedelta(seconds=5))) == 1


OPS = st.lists(
    st.tuples(
        st.integers(0, 2),  # which task (each has its own belief of holding)
        st.integers(0, 1),  # over which of two connections (two processes' view)
        st.sampled_from(["acquire", "renew", "release", "wait"]),
        st.integers(1, 90),  # seconds, for "wait"
    ),
    max_size=40,
)


@settings(max_examples=40, deadline=None)
@given(OPS)
def test_never_two_holders_whatever_the_interleaving(ops: list[tuple[int, int, str, int]]) -> None:
    asyncio.run(_interleave(ops))


async def _interleave(ops: list[tuple[int, int, str, int]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orch.db"
        one = await Database.open(path)
        two = await Database.open(path)
        try:
            ids = await tasks_in(one, 3)
            stores = [SqliteMergeLeaseStore(one), SqliteMergeLeaseStore(two)]
            holds_until: dict[int, datetime] = {}
            now = T0
            for who, via, op, seconds in ops:
                task, store = ids[who], stores[via]
                if op == "wait":
                    now += timedelta(seconds=seconds)
                elif op == "acquire":
                    grant = await store.acquire("api", task, f"K-{who}", f"p{via}", now, TTL)
                    if grant.granted:
                        holds_until[who] = grant.lease.expires_at
                elif op == "renew":
                    if await store.renew("api", task, now, TTL):
                        holds_until[who] = now + timedelta(seconds=TTL)
                    else:
                        holds_until.pop(who, None)
                else:
                    await store.release("api", task, now, "done")
                    holds_until.pop(who, None)
                believers = [w for w, until in holds_until.items() if until > now]
                assert len(believers) <= 1, (believers, ops)
                held = await stores[1 - via].held(now)
                assert len(held) <= 1
                if believers:
                    assert [lease.task_id for lease in held] == [ids[believers[0]]]
        finally:
            await one.close()
            await two.close()
