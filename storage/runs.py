"""SQLite adapter of core's RunLedger: what runs cost, per task, per day, per run."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from core.clock import utc_iso
from core.jobs.effort import Costliest, EffortTotals
from core.jobs.model import Run
from storage.database import Database
from storage.jobs import run_from_row
from storage.queries import queries

Q = queries("runs")


class SqliteRunLedger:
    """Reads only; every figure is a sum over the runs table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def task_totals(self, task_id: int) -> EffortTotals:
        return _totals(await self._db.fetch_one(Q["task_totals"], {"task_id": task_id}))

    async def last_run(self, task_id: int) -> Run | None:
        row = await self._db.fetch_one(Q["last_finished_run"], {"task_id": task_id})
        return run_from_row(row) if row is not None else None

    async def totals_since(self, since: datetime) -> EffortTotals:
        return _totals(await self._db.fetch_one(Q["totals_since"], {"since": utc_iso(since)}))

    async def costliest_running(self) -> Costliest | None:
        row = await self._db.fetch_one(Q["costliest_running"])
        return Costliest(row["key"], _totals(row)) if row is not None else None

    async def recent(self, limit: int) -> Sequence[Mapping[str, Any]]:
        rows = await self._db.fetch_all(Q["recent_runs"], {"limit": limit})
        return [dict(row) for row in rows]


def _totals(row: sqlite3.Row | None) -> EffortTotals:
    if row is None:
        return EffortTotals()
    return EffortTotals(row["runs"], row["wall_s"], row["cpu_s"], row["tokens"], row["cost"])
