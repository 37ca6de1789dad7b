"""In-memory stores of the tracker sync's safety parts (write-back rows, pauses, the
missing marks, budgets), with their SQLite twins' behaviour, for the unit tier."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from core.pipeline.tasks import Task
from core.ratebudget import BudgetSnapshot
from core.sync.outbox import RowStatus, WriteBackDraft, WriteBackRow
from core.sync.records import ItemBlocker, ItemRecord
from core.sync.vanish import Pause
from tests.fakes import InMemorySyncStore, RecordingDependencies

_OPEN = (RowStatus.PENDING, RowStatus.RUNNING)


class SafeSyncStore(InMemorySyncStore):
    """InMemorySyncStore with the synced version and the missing marks."""

    async def note_written(self, item_id: str, state_id: str, at: datetime,
                           version: int = 0) -> None:
        if (record := self.items.get(item_id)) is not None:
            synced = max(record.synced_version or 0, version)
            self.items[item_id] = replace(record, written_state_id=state_id,
                                          synced_version=synced)

    async def save(self, record: ItemRecord, at: datetime) -> None:
        old = self.items.get(record.item_id)
        if old is not None and (old.synced_version or 0) > (record.synced_version or 0):
            record = replace(record, synced_version=old.synced_version)
        await super().save(record, at)

    async def note_synced(self, item_id: str, version: int, at: datetime) -> None:
        if (record := self.items.get(item_id)) is not None and (
                record.synced_version or 0) < version:
            self.items[item_id] = replace(record, synced_version=version)

    async def mark_missing(self, item_id: str, since: datetime, checked_at: datetime | None,
                           at: datetime) -> None:
        if (record := self.items.get(item_id)) is not None:
            self.items[item_id] = replace(record, missing_since=record.missing_since or since,
                                          missing_checked_at=checked_at)

    async def clear_missing(self, item_id: str, at: datetime) -> bool:
        record = self.items.get(item_id)
        if record is None or record.missing_since is None:
            return False
        self.items[item_id] = replace(record, missing_since=None, missing_checked_at=None)
        return True

    async def missing(self) -> list[ItemRecord]:
        marked = [r for r in self.items.values() if r.missing_since is not None]
        return sorted(marked, key=lambda r: (r.missing_since, r.key))


@dataclass
class _Row:
    id: int
    draft: WriteBackDraft
    status: RowStatus = RowStatus.PENDING
    attempts: int = 0
    not_before: datetime | None = None
    state_done: bool = False
    error: str | None = None


class InMemoryWriteBackStore:
    """The write-back rows in a list."""

    def __init__(self) -> None:
        self.rows: list[_Row] = []

    async def add(self, drafts: Sequence[WriteBackDraft], at: datetime) -> int:
        added = 0
        for draft in drafts:
            if any(r.draft.task_id == draft.task_id and r.draft.version == draft.version
                   and r.status is not RowStatus.FAILED for r in self.rows):
                continue
            self.rows.append(_Row(len(self.rows) + 1, draft, not_before=at))
            added += 1
        return added

    async def due(self, at: datetime, limit: int) -> list[WriteBackRow]:
        due = [r for r in self.rows if r.status is RowStatus.PENDING
               and r.not_before is not None and r.not_before <= at]
        return [WriteBackRow(r.id, r.draft, r.attempts, r.not_before or at, r.state_done)
                for r in due[:limit]]

    async def start(self, row_id: int, at: datetime) -> bool:
        return self._move(row_id, RowStatus.PENDING, RowStatus.RUNNING) is not None

    async def state_done(self, row_id: int, at: datetime) -> None:
        self.rows[row_id - 1].state_done = True

    async def finish(self, row_id: int, status: RowStatus, error: str | None,
                     at: datetime) -> None:
        if (row := self._move(row_id, RowStatus.RUNNING, status)) is not None:
            row.error = error

    async def retry(self, row_id: int, not_before: datetime, error: str, at: datetime) -> None:
        if (row := self._move(row_id, RowStatus.RUNNING, RowStatus.PENDING)) is not None:
            row.attempts, row.not_before, row.error = row.attempts + 1, not_before, error

    async def sweep(self, at: datetime) -> int:
        stale = [r for r in self.rows if r.status is RowStatus.RUNNING]
        for row in stale:
            row.status, row.error = RowStatus.FAILED, "orch restarted during the write-back"
            self.rows.append(_Row(len(self.rows) + 1, row.draft, attempts=row.attempts + 1,
                                  not_before=at))
        return len(stale)

    async def later_for_item(self, item_id: str, row_id: int) -> bool:
        return any(r.draft.item_id == item_id and r.id > row_id and r.status in _OPEN
                   for r in self.rows)

    async def open_for_task(self, task_id: int) -> bool:
        return any(r.draft.task_id == task_id and r.status in _OPEN for r in self.rows)

    async def open_count(self) -> int:
        return sum(1 for r in self.rows if r.status in _OPEN)

    def statuses(self) -> list[str]:
        return [f"{r.draft.key} v{r.draft.version} {r.status}" for r in self.rows]

    def _move(self, row_id: int, old: RowStatus, new: RowStatus) -> _Row | None:
        row = self.rows[row_id - 1]
        if row.status is not old:
            return None
        row.status = new
        return row


class InMemoryPauseStore:
    def __init__(self) -> None:
        self.pauses: list[Pause] = []

    async def open_pauses(self) -> list[Pause]:
        return [p for p in self.pauses if p.confirmed_at is None]

    async def pause(self, project_id: str, identifier: str, missing: int, followed: int,
                    at: datetime) -> Pause | None:
        if any(p.project_id == project_id for p in await self.open_pauses()):
            return None
        pause = Pause(len(self.pauses) + 1, project_id, identifier, missing, followed, at)
        self.pauses.append(pause)
        return pause

    async def confirm(self, pause_id: int, by: str, at: datetime) -> Pause | None:
        for index, pause in enumerate(self.pauses):
            if pause.id == pause_id and pause.confirmed_at is None:
                self.pauses[index] = replace(pause, confirmed_at=at)
                return self.pauses[index]
        return None


class InMemoryBudgetStore:
    def __init__(self) -> None:
        self.saved: dict[str, BudgetSnapshot] = {}

    async def load(self, name: str) -> BudgetSnapshot | None:
        return self.saved.get(name)

    async def save(self, name: str, snapshot: BudgetSnapshot, at: datetime) -> None:
        self.saved[name] = snapshot


@dataclass
class RecordingItemDependencies(RecordingDependencies):
    """RecordingDependencies that also keeps the untracked blockers it was told of."""

    items: list[tuple[str, tuple[ItemBlocker, ...]]] = field(default_factory=list)
    moved: list[tuple[str, str, bool]] = field(default_factory=list)

    async def ingest_relations(self, task: Task, blocked_by_keys: Iterable[str], *,
                               source: str, blocked_by_items: Iterable[ItemBlocker] = ()
                               ) -> None:
        await super().ingest_relations(task, blocked_by_keys, source=source)
        self.items.append((task.key, tuple(blocked_by_items)))

    async def open_item_blockers(self) -> set[str]:
        return {b.item_id for _, blockers in self.items for b in blockers if not b.released}

    async def item_moved(self, item_id: str, group: str, released: bool) -> list[Task]:
        self.moved.append((item_id, group, released))
        return []

    async def release_ready(self) -> list[Task]:
        return []
