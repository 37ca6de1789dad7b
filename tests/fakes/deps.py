"""The in-memory DependencyStore and a DependencySink that records."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.deps.service import DepLink, Satisfied
from core.errors import (
    StorageError,
)
from core.pipeline.stages import DONE
from core.pipeline.tasks import Task
from core.sync.records import ItemBlocker
from tests.fakes.tasks import InMemoryTaskStore


@dataclass
class _Edge:
    source: str
    created_at: datetime
    satisfied_at: datetime | None = None


class InMemoryDependencyStore:
    """A DependencyStore in a dict, reading task stages from an InMemoryTaskStore."""

    def __init__(self, tasks: InMemoryTaskStore) -> None:
        self._tasks = tasks
        self._edges: dict[tuple[int, int], _Edge] = {}
        # (task id, item id) → [key, released, reported]: waits on items without a task
        self._items: dict[tuple[int, str], list[Any]] = {}

    async def replace_items(self, task_id: int, blockers: Collection[ItemBlocker],
                            at: datetime) -> tuple[list[str], list[str]]:
        wanted = {b.item_id: b for b in blockers}
        present = {i for (t, i) in self._items if t == task_id}
        for item_id in present - set(wanted):
            del self._items[(task_id, item_id)]
        for b in wanted.values():
            old = self._items.get((task_id, b.item_id))
            reported = (old[2] if old else b.released) and b.released
            self._items[(task_id, b.item_id)] = [b.key, b.released, reported]
        return sorted(set(wanted) - present), sorted(present - set(wanted))

    async def open_item_blockers(self) -> set[str]:
        return {i for (_, i), edge in self._items.items() if not edge[1]}

    async def item_moved(self, item_id: str, group: str, released: bool, at: datetime) -> None:
        for (_, i), edge in self._items.items():
            if i == item_id:
                edge[1], edge[2] = released, edge[2] and released

    async def add(self, task_id: int, depends_on: int, source: str, at: datetime) -> bool:
        return self._add(task_id, depends_on, source, at)

    async def remove(self, task_id: int, depends_on: int) -> bool:
        return self._edges.pop((task_id, depends_on), None) is not None

    async def replace(self, task_id: int, source: str, depends_on: Collection[int],
                      at: datetime) -> tuple[list[int], list[int]]:
        wanted = set(depends_on)
        present = {d for (t, d), e in self._edges.items() if t == task_id and e.source == source}
        removed = sorted(present - wanted)
        for dep in removed:
            del self._edges[(task_id, dep)]
        added = [d for d in sorted(wanted - present) if self._add(task_id, d, source, at)]
        return added, removed

    async def links(self, task_id: int) -> tuple[list[DepLink], list[DepLink]]:
        ups = [self._link(d, e) for (t, d), e in self._edges.items() if t == task_id]
        downs = [self._link(t, e) for (t, d), e in self._edges.items() if d == task_id]
        return sorted(ups, key=lambda x: x.key), sorted(downs, key=lambda x: x.key)

    async def edges(self) -> list[tuple[int, int]]:
        return list(self._edges)

    async def release_done(self, at: datetime) -> list[Satisfied]:
        by_task: dict[int, list[str]] = {}
        for (task_id, dep), edge in self._edges.items():
            if edge.satisfied_at is None and self._done(dep):
                edge.satisfied_at = at
                by_task.setdefault(task_id, []).append(self._key(dep))
        for (task_id, _), item in self._items.items():
            if item[1] and not item[2]:
                item[2] = True
                by_task.setdefault(task_id, []).append(item[0])
        return [Satisfied(t, tuple(sorted(keys)), not self._unmet(t))
                for t, keys in by_task.items()]

    async def unmet(self, task_ids: Collection[int]) -> dict[int, list[str]]:
        found = {t: self._unmet(t) for t in task_ids}
        return {t: keys for t, keys in found.items() if keys}

    def _add(self, task_id: int, depends_on: int, source: str, at: datetime) -> bool:
        if task_id == depends_on:
            raise StorageError("CHECK constraint failed: task_id != depends_on")
        if self._tasks.peek(task_id) is None or self._tasks.peek(depends_on) is None:
            raise StorageError("FOREIGN KEY constraint failed")
        if (task_id, depends_on) in self._edges:
            return False
        satisfied = at if self._done(depends_on) else None
        self._edges[(task_id, depends_on)] = _Edge(source, at, satisfied)
        return True

    def _unmet(self, task_id: int) -> list[str]:
        deps = [d for (t, d) in self._edges if t == task_id and not self._done(d)]
        items = [e[0] for (t, _), e in self._items.items() if t == task_id and not e[1]]
        return sorted([*(self._key(d) for d in deps), *items])

    def _done(self, task_id: int) -> bool:
        task = self._tasks.peek(task_id)
        return task is not None and task.stage == DONE

    def _key(self, task_id: int) -> str:
        task = self._tasks.peek(task_id)
        return task.key if task else f"#{task_id}"

    def _link(self, task_id: int, edge: _Edge) -> DepLink:
        task = self._tasks.peek(task_id)
        assert task is not None
        return DepLink(task.id, task.key, task.stage, edge.source)


@dataclass
class RecordingDependencies:
    """A DependencySink that keeps what it was told; raises `fail_for` task keys."""

    told: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    fail_for: set[str] = field(default_factory=set)

    async def ingest_relations(self, task: Task, blocked_by_keys: Iterable[str], *,
                               source: str) -> None:
        if task.key in self.fail_for:
            raise StorageError(f"cannot store the dependencies of {task.key}")
        self.told.append((task.key, tuple(blocked_by_keys)))
