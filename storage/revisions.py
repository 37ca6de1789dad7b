"""SQLite adapter of core's RevisionSource: the counters that triggers bump on writes."""

from __future__ import annotations

from collections.abc import Mapping

from storage.database import Database
from storage.queries import queries

Q = queries("revisions")


class SqliteRevisions:
    """Every revision counter in one read; a new counter is one row and its triggers."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def read(self) -> Mapping[str, int]:
        return {row["name"]: int(row["value"]) for row in await self._db.fetch_all(
            Q["all_revisions"])}
