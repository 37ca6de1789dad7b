"""SQLite adapter of core's TaskStore: tasks and their audit trail."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from core.clock import parse_iso, utc_iso
from core.errors import DuplicateTask
from core.pipeline.tasks import ChangeKind, Task, TaskEvent
from core.ports import Applied, EventDraft, TaskChange, TaskDraft
from storage.database import Database, IntegrityViolation, Tx
from storage.queries import queries

Q = queries("tasks")
MAX_KEY_SKIPS = 1000


class SqliteTaskStore:
    """Tasks in SQLite; each write and its event commit together or not at all."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, draft: TaskDraft, event: EventDraft, at: datetime) -> Applied:
        key = draft.key or await self._allocate_key(draft.key_prefix)
        try:
            async with self._db.transaction() as tx:
                row = await tx.fetch_one(
                    Q["insert_task"],
                    {
                        "key": key,
                        "repo": draft.repo,
                        "title": draft.title,
                        "description": draft.description,
                        "branch": branch_for(key),
                        "stage": draft.stage,
                        "tracker_id": draft.tracker_id,
                        "source": draft.source,
                        "at": utc_iso(at),
                    },
                )
                assert row is not None
                return await _insert_event(tx, row, None, event, at)
        except IntegrityViolation as exc:
            raise DuplicateTask(
                f"A task for {draft.key or draft.tracker_id or key} exists already."
            ) from exc

    async def _allocate_key(self, prefix: str) -> str:
        """The next free key, committed on its own: a failed insert never hands the same
        number out again, and a number taken by another namespace is skipped."""
        for _ in range(MAX_KEY_SKIPS):
            async with self._db.transaction() as tx:
                key = await _allocate_key(tx, prefix)
                if await tx.fetch_one(Q["find_by_key"], {"key": key}) is None:
                    return key
        raise DuplicateTask(f"No free {prefix} key after {MAX_KEY_SKIPS} tries.")

    async def compare_and_set(
        self,
        task_id: int,
        expected_version: int,
        change: TaskChange,
        event: EventDraft,
        at: datetime,
    ) -> Applied | None:
        params = {"id": task_id, "expected_version": expected_version}
        async with self._db.transaction() as tx:
            before = await tx.fetch_one(Q["stage_at_version"], params)
            if before is None:
                return None
            row = await tx.fetch_one(
                Q["compare_and_set"],
                {
                    **params,
                    "stage": change.stage,
                    "blocked_from": change.blocked_from,
                    "reason": change.reason,
                    "title": change.title,
                    "description": change.description,
                    "at": utc_iso(at),
                },
            )
            if row is None:
                return None
            return await _insert_event(tx, row, before["stage"], event, at)

    async def get(self, task_id: int) -> Task | None:
        row = await self._db.fetch_one(Q["get_task"], {"id": task_id})
        return task_from_row(row) if row else None

    async def find(self, *, key: str | None = None, tracker_id: str | None = None) -> Task | None:
        if key is not None:
            row = await self._db.fetch_one(Q["find_by_key"], {"key": key.upper()})
        elif tracker_id is not None:
            row = await self._db.fetch_one(Q["find_by_tracker_id"], {"tracker_id": tracker_id})
        else:
            return None
        return task_from_row(row) if row else None

    async def list_open(self) -> Sequence[Task]:
        return [task_from_row(r) for r in await self._db.fetch_all(Q["list_open"])]

    async def stage_digest(self, per_stage: int) -> tuple[dict[str, int], list[Task]]:
        """Open tasks counted per stage, and the `per_stage` oldest of each stage."""
        async with self._db.read() as tx:
            counts = {r["stage"]: int(r["n"]) for r in await tx.fetch_all(
                Q["open_stage_counts"])}
            oldest = await tx.fetch_all(Q["oldest_open_per_stage"], {
                "per_stage": per_stage, "stages": json.dumps(sorted(counts))})
        return counts, [task_from_row(r) for r in oldest]

    async def events(self, task_id: int, limit: int = 50) -> Sequence[TaskEvent]:
        rows = await self._db.fetch_all(Q["recent_events"], {"task_id": task_id, "limit": limit})
        return [event_from_row(r) for r in rows]

    async def events_after(self, after_id: int, limit: int = 500) -> Sequence[TaskEvent]:
        """Events newer than `after_id`, oldest first: the notifier's replay on start."""
        rows = await self._db.fetch_all(Q["events_after"], {"after": after_id, "limit": limit})
        return [event_from_row(r) for r in rows]

    async def last_event_id(self) -> int:
        row = await self._db.fetch_one(Q["last_event_id"])
        return int(row[0]) if row else 0


def branch_for(key: str) -> str:
    """The git branch a task works on."""
    return f"orch/{key.lower()}"


async def _allocate_key(tx: Tx, prefix: str) -> str:
    row = await tx.fetch_one(Q["next_key_number"], {"name": f"task_key:{prefix}"})
    assert row is not None
    return f"{prefix}-{row[0]}"


async def _insert_event(
    tx: Tx, task_row: sqlite3.Row, from_stage: str | None, event: EventDraft, at: datetime
) -> Applied:
    row = await tx.fetch_one(
        Q["insert_event"],
        {
            "task_id": task_row["id"],
            "at": utc_iso(at),
            "actor": event.actor,
            "kind": event.kind.value,
            "from_stage": from_stage,
            "to_stage": task_row["stage"],
            "version": task_row["version"],
            "reason": event.reason,
        },
    )
    assert row is not None
    return Applied(task_from_row(task_row), _event(row, task_row["key"]))


def task_from_row(row: sqlite3.Row) -> Task:
    return Task(
        id=row["id"],
        key=row["key"],
        repo=row["repo"],
        title=row["title"],
        stage=row["stage"],
        version=row["version"],
        created_at=parse_iso(row["created_at"]),
        updated_at=parse_iso(row["updated_at"]),
        stage_entered_at=parse_iso(row["stage_entered_at"]),
        description=row["description"],
        branch=row["branch"],
        blocked_from=row["blocked_from"],
        reason=row["reason"],
        tracker_id=row["tracker_id"],
        source=row["source"],
    )


def event_from_row(row: sqlite3.Row) -> TaskEvent:
    return _event(row, row["key"])


def _event(row: sqlite3.Row, key: str) -> TaskEvent:
    return TaskEvent(
        id=row["id"],
        task_id=row["task_id"],
        key=key,
        at=parse_iso(row["at"]),
        actor=row["actor"],
        kind=ChangeKind(row["kind"]),
        from_stage=row["from_stage"],
        to_stage=row["to_stage"],
        version=row["version"],
        reason=row["reason"],
    )
