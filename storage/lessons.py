"""SQLite adapter of core's LessonStore."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime

from core.clock import parse_iso, utc_iso
from core.lessons.journal import (
    Attribution,
    Lesson,
    LessonDraft,
    LessonFilter,
    LessonStatus,
    LessonUpdate,
    Source,
)
from storage.database import Database
from storage.queries import queries

Q = queries("lessons")


class SqliteLessonStore:
    """Lessons in SQLite; the duplicate probe and the insert share one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(self, draft: LessonDraft, at: datetime, *,
                     duplicate_since: datetime | None) -> int | None:
        params = {**_plain(asdict(draft)), "at": utc_iso(at)}
        async with self._db.transaction() as tx:
            if duplicate_since is not None:
                probe = {"lesson_type": draft.lesson_type, "work_item": draft.work_item,
                         "stage": draft.stage, "since": utc_iso(duplicate_since)}
                if await tx.fetch_one(Q["recent_auto_duplicate"], probe) is not None:
                    return None
            row = await tx.fetch_one(Q["insert_lesson"], params)
            assert row is not None
            return int(row["id"])

    async def query(self, query: LessonFilter) -> Sequence[Lesson]:
        params = {
            "lesson_type": query.lesson_type, "status": query.status, "repo": query.repo,
            "stage": query.stage, "work_item": query.work_item, "limit": query.limit,
            "or_stageless": int(query.or_stageless),
            "since": utc_iso(query.since) if query.since else None,
        }
        return [lesson_from_row(r) for r in await self._db.fetch_all(Q["list_lessons"], params)]

    async def get(self, lesson_id: int) -> Lesson | None:
        row = await self._db.fetch_one(Q["get_lesson"], {"id": lesson_id})
        return lesson_from_row(row) if row else None

    async def update(self, lesson_id: int, change: LessonUpdate, at: datetime, *,
                     expected_version: int | None) -> bool:
        params = {**_plain(asdict(change)), "id": lesson_id, "at": utc_iso(at),
                  "expected_version": expected_version}
        async with self._db.transaction() as tx:
            return await tx.execute(Q["update_lesson"], params) == 1

    async def counts(self) -> Sequence[tuple[str, str, int]]:
        rows = await self._db.fetch_all(Q["count_lessons"])
        return [(r["lesson_type"], r["status"], int(r["n"])) for r in rows]


def lesson_from_row(row: sqlite3.Row) -> Lesson:
    return Lesson(
        id=row["id"],
        lesson_type=row["lesson_type"],
        source=Source(row["source"]),
        status=LessonStatus(row["status"]),
        version=row["version"],
        created_at=parse_iso(row["created_at"]),
        updated_at=parse_iso(row["updated_at"]) if row["updated_at"] else None,
        work_item=row["work_item"],
        task_id=row["task_id"],
        stage=row["stage"],
        agent_role=row["agent_role"],
        repo=row["repo"],
        detail=row["detail"],
        root_cause=row["root_cause"],
        suggestion=row["suggestion"],
        related_task=row["related_task"],
        attribution=Attribution(row["attribution"]) if row["attribution"] else None,
        target_repo=row["target_repo"],
        target_domain=row["target_domain"],
    )


def _plain(values: dict[str, object]) -> dict[str, object]:
    # Enum members go to SQLite as their text value.
    return {k: (str(v) if isinstance(v, str) else v) for k, v in values.items()}
