"""SQLite side of the running instance: the database's lease and the webhook deliveries
already taken (shared by every webhook source, each under its own name)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core.clock import parse_iso, utc_iso
from core.instance.lease import LeaseHolder
from storage.database import Database
from storage.queries import queries

Q = queries("instance")


def read_lease(path: str) -> LeaseHolder | None:
    """The lease of the database at `path`, read-only (for `orch doctor`); None when the
    file, the table or the row is not there."""
    file = Path(path)
    if not file.exists():
        return None
    try:
        conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute(Q["current_lease"]).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # an older schema without the table: nobody holds a lease
    return _holder(row) if row else None


def _holder(row: Sequence[Any]) -> LeaseHolder:
    holder, host, pid, since, expires_at = row
    return LeaseHolder(holder, host, pid, parse_iso(since), parse_iso(expires_at))


class SqliteLeaseStore:
    """core.instance.lease.LeaseStore on the single-row process_lease table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def current(self) -> LeaseHolder | None:
        row = await self._db.fetch_one(Q["current_lease"])
        return _holder(tuple(row)) if row is not None else None

    async def take(self, me: LeaseHolder, at: datetime, replacing: str | None) -> bool:
        params = {"holder": me.holder, "host": me.host, "pid": me.pid, "at": utc_iso(at),
                  "expires_at": utc_iso(me.expires_at), "replacing": replacing}
        async with self._db.transaction() as tx:
            return await tx.fetch_one(Q["take_lease"], params) is not None

    async def renew(self, holder: str, at: datetime, expires_at: datetime) -> bool:
        params = {"holder": holder, "at": utc_iso(at), "expires_at": utc_iso(expires_at)}
        async with self._db.transaction() as tx:
            return await tx.fetch_one(Q["renew_lease"], params) is not None

    async def release(self, holder: str) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(Q["release_lease"], {"holder": holder})


class SqliteDeliveryLog:
    """Webhook deliveries already taken, per source; remembered for `keep_s` seconds
    (a sender's retries come within minutes, so a few days is plenty)."""

    def __init__(self, db: Database, *, keep_s: float = 3 * 24 * 3600.0) -> None:
        self._db = db
        self._keep = timedelta(seconds=keep_s)

    async def first_time(self, source: str, delivery_id: str, at: datetime) -> bool:
        """Record the delivery; True the first time `source` sends this id."""
        params = {"source": source, "delivery_id": delivery_id, "at": utc_iso(at)}
        async with self._db.transaction() as tx:
            await tx.execute(Q["forget_deliveries"], {"before": utc_iso(at - self._keep)})
            return await tx.fetch_one(Q["first_delivery"], params) is not None
