"""SQLite adapter of core's BudgetStore: request budgets that survive a restart."""

from __future__ import annotations

import json
from datetime import datetime

from core.clock import parse_iso, utc_iso
from core.ratebudget import BudgetSnapshot
from storage.database import Database
from storage.queries import queries

Q = queries("tracker")


class SqliteBudgetStore:
    """The `rate_budgets` table: one row per budget name."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def load(self, name: str) -> BudgetSnapshot | None:
        row = await self._db.fetch_one(Q["load_budget"], {"name": name})
        if row is None:
            return None
        spent = tuple(parse_iso(text) for text in json.loads(row["spent"]))
        paused = row["paused_until"]
        return BudgetSnapshot(spent, parse_iso(paused) if paused else None)

    async def save(self, name: str, snapshot: BudgetSnapshot, at: datetime) -> None:
        params = {"name": name, "spent": json.dumps([utc_iso(t) for t in snapshot.spent]),
                  "paused_until": utc_iso(snapshot.paused_until) if snapshot.paused_until
                  else None, "at": utc_iso(at)}
        async with self._db.transaction() as tx:
            await tx.execute(Q["save_budget"], params)
