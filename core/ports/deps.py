"""The dependency ports: the edges between tasks, and what sync hands on to them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.deps.service import DepLink, Satisfied
    from core.pipeline.tasks import Task
    from core.sync.records import ItemBlocker


class DependencyEdges(Protocol):
    """The dependency edges (task B depends on task A), as declarations change them."""

    async def add(self, task_id: int, depends_on: int, source: str, at: datetime) -> bool:
        """Record the edge; False if it exists already (its source is kept)."""
        ...

    async def remove(self, task_id: int, depends_on: int) -> bool:
        """Drop the edge; False if there was none."""
        ...

    async def replace(
        self, task_id: int, source: str, depends_on: Collection[int], at: datetime
    ) -> tuple[list[int], list[int]]:
        """Make the task's edges from `source` exactly `depends_on`: (added, removed)."""
        ...

    async def links(self, task_id: int) -> tuple[list[DepLink], list[DepLink]]:
        """(what the task depends on, what depends on the task)."""
        ...

    async def edges(self) -> list[tuple[int, int]]:
        """Every edge as (task, depends on), for cycle checks."""
        ...

    async def replace_items(self, task_id: int, blockers: Collection[ItemBlocker],
                            at: datetime) -> tuple[list[str], list[str]]:
        """Make the task's waits on tracker items without a task exactly these:
        (added, removed) item ids. A blocker released already is met from the start."""
        ...


class DependencyProgress(Protocol):
    """How far the edges are met, as the job loop and /queue ask."""

    async def release_done(self, at: datetime) -> list[Satisfied]:
        """Mark edges whose depended-on task is done; each edge is reported once."""
        ...

    async def unmet(self, task_ids: Collection[int]) -> dict[int, list[str]]:
        """For each given task, the keys of its dependencies not yet done."""
        ...

    async def open_item_blockers(self) -> set[str]:
        """Ids of tracker items without a task that some task still waits for."""
        ...

    async def item_moved(self, item_id: str, group: str, released: bool, at: datetime) -> None:
        """Record a blocking item's new group (released or not)."""
        ...


class DependencyStore(DependencyEdges, DependencyProgress, Protocol):
    """Both halves in one store (storage.dependencies.SqliteDependencyStore), as the
    dependency service takes it."""


class DependencySink(Protocol):
    """Takes what the tracker says blocks a task (core.deps.service implements it)."""

    async def ingest_relations(self, task: Task, blocked_by_keys: Iterable[str], *,
                               source: str, blocked_by_items: Iterable[ItemBlocker] = ()
                               ) -> object:
        """Make the task's dependencies from `source` (the tracker's name) exactly these
        task keys and untracked items; dependencies from elsewhere are kept."""
        ...

    async def open_item_blockers(self) -> set[str]:
        """Ids of tracker items without a task that some task waits for."""
        ...

    async def item_moved(self, item_id: str, group: str, released: bool) -> Sequence[Task]:
        """A blocking item changed group; the tasks released by it, announced once."""
        ...

    async def release_ready(self) -> Sequence[Task]:
        """Announce every task whose last dependency is met; once each."""
        ...
