"""SQLite adapters of the merge gate's ports: the lease, the merge records, deliveries."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

from core.clock import parse_iso, utc_iso
from core.merge.records import MergeRecord, MergeState
from core.ports import MergeLease, MergeLeaseGrant
from storage.database import Database
from storage.queries import queries

Q = queries("merge")


class SqliteMergeLeaseStore:
    """Merge leases; the partial unique index `merge_leases_one_holder` is the invariant,
    every acquire is one transaction that first releases the repo's expired lease."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def acquire(self, repo: str, task_id: int, task_key: str, owner: str,
                      at: datetime, ttl_s: float) -> MergeLeaseGrant:
        stamp = {"repo": repo, "at": utc_iso(at),
                 "expires_at": utc_iso(at + timedelta(seconds=ttl_s))}
        async with self._db.transaction() as tx:
            await tx.fetch_all(Q["release_expired"], stamp)
            live = await tx.fetch_one(Q["live_lease"], stamp)
            if live is not None and live["task_id"] != task_id:
                return MergeLeaseGrant(False, lease_from_row(live))
            if live is not None:  # this task's own lease (a redrive): adopt it
                row = await tx.fetch_one(Q["adopt_lease"],
                                         {**stamp, "task_id": task_id, "owner": owner})
            else:
                row = await tx.fetch_one(Q["insert_lease"], {
                    **stamp, "task_id": task_id, "task_key": task_key, "owner": owner})
            assert row is not None
            return MergeLeaseGrant(True, lease_from_row(row))

    async def renew(self, repo: str, task_id: int, at: datetime, ttl_s: float,
                    phase: str | None = None) -> bool:
        params = {"repo": repo, "task_id": task_id, "at": utc_iso(at), "phase": phase,
                  "expires_at": utc_iso(at + timedelta(seconds=ttl_s))}
        async with self._db.transaction() as tx:
            return await tx.execute(Q["renew_lease"], params) == 1

    async def release(self, repo: str, task_id: int, at: datetime, reason: str) -> bool:
        params = {"repo": repo, "task_id": task_id, "at": utc_iso(at), "note": reason}
        async with self._db.transaction() as tx:
            return await tx.execute(Q["release_lease"], params) == 1

    async def held(self, at: datetime) -> Sequence[MergeLease]:
        rows = await self._db.fetch_all(Q["held_leases"], {"at": utc_iso(at)})
        return [lease_from_row(row) for row in rows]

    async def sweep(self, at: datetime) -> Sequence[MergeLease]:
        async with self._db.transaction() as tx:
            rows = await tx.fetch_all(Q["release_expired"], {"repo": None, "at": utc_iso(at)})
        return [lease_from_row(row) for row in rows]


def lease_from_row(row: sqlite3.Row) -> MergeLease:
    return MergeLease(
        repo=row["repo"], task_id=row["task_id"], task_key=row["task_key"],
        owner=row["owner"], phase=row["phase"], acquired_at=parse_iso(row["acquired_at"]),
        phase_since=parse_iso(row["phase_since"]), expires_at=parse_iso(row["expires_at"]),
    )


class SqliteMergeRecords:
    """MergeRecords in the `merges` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def ensure(self, task_id: int, repo: str, forge_repo: str, branch: str,
                     at: datetime) -> MergeRecord:
        async with self._db.transaction() as tx:
            await tx.execute(Q["insert_merge"], {"task_id": task_id, "repo": repo,
                                                 "forge_repo": forge_repo, "branch": branch,
                                                 "at": utc_iso(at)})
            row = await tx.fetch_one(Q["get_merge"], {"task_id": task_id})
        assert row is not None
        return record_from_row(row)

    async def get(self, task_id: int) -> MergeRecord | None:
        row = await self._db.fetch_one(Q["get_merge"], {"task_id": task_id})
        return record_from_row(row) if row else None

    async def save(self, record: MergeRecord, at: datetime) -> MergeRecord | None:
        params = {
            "task_id": record.task_id, "version": record.version, "at": utc_iso(at),
            "pr_number": record.pr_number, "pr_url": record.pr_url,
            "seen_sha": record.seen_sha, "pushing_sha": record.pushing_sha,
            "tested_sha": record.tested_sha, "branch": record.branch,
            "tested_green": None if record.tested_green is None else int(record.tested_green),
            "state": record.state.value, "merged_sha": record.merged_sha, "note": record.note,
        }
        async with self._db.transaction() as tx:
            if await tx.execute(Q["update_merge"], params) != 1:
                return None
            row = await tx.fetch_one(Q["get_merge"], {"task_id": record.task_id})
        return record_from_row(row) if row else None

    async def find(self, forge_repo: str, *, pr_number: int | None = None,
                   branch: str | None = None) -> list[MergeRecord]:
        rows = await self._db.fetch_all(Q["merges_by_pr"], {
            "forge_repo": forge_repo, "pr_number": pr_number, "branch": branch})
        return [record_from_row(row) for row in rows]


def record_from_row(row: sqlite3.Row) -> MergeRecord:
    green = row["tested_green"]
    return MergeRecord(
        task_id=row["task_id"], repo=row["repo"], forge_repo=row["forge_repo"],
        branch=row["branch"], version=row["version"], state=MergeState(row["state"]),
        pr_number=row["pr_number"], pr_url=row["pr_url"], seen_sha=row["seen_sha"],
        pushing_sha=row["pushing_sha"], tested_sha=row["tested_sha"],
        tested_green=None if green is None else bool(green), merged_sha=row["merged_sha"],
        note=row["note"],
    )


class SqliteDeliveries:
    """Webhook deliveries seen: `first_time` is True once per delivery id."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def first_time(self, delivery: str, at: datetime) -> bool:
        async with self._db.transaction() as tx:
            return await tx.execute(Q["record_delivery"],
                                    {"delivery": delivery, "at": utc_iso(at)}) == 1
