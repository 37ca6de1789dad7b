"""The /queue ports: blocks other services add, why tasks wait, and the open tasks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from core.pipeline.tasks import Task
    from core.queue_view import QueueBlock
    from core.summary.cache import Section


class QueueBlockSource(Protocol):
    """A service that contributes one block to /queue (reconciler, jobs, lessons)."""

    async def queue_block(self) -> QueueBlock | None:
        """The block as it is now; None to show nothing."""
        ...


class RevisionSource(Protocol):
    """Revision counters (storage.revisions: moved by triggers in the writing transaction)."""

    async def read(self) -> Mapping[str, int]:
        """Every counter by name, read together."""
        ...


class QueueSectionView(Protocol):
    """Cached sections (core.summary.cache) and the block composed from their data when
    /queue is shown (the jobs view: counts, and running jobs with their elapsed time)."""

    def sections(self) -> Sequence[Section]:
        """The sections to cache, each with what its revision watches."""
        ...

    def block(self, parts: Mapping[str, Any], now: datetime) -> QueueBlock | None:
        """The block from the cached data of every section (by name), shown at `now`."""
        ...


class WaitExplainer(Protocol):
    """Says, for tasks that are waiting for something other than a person, what it is.

    Only the tasks /queue shows are asked. An answer may carry `until` (a datetime
    attribute, see core.queue_view.Reasons): its reasons hold until then at most. An
    explainer may also offer `card_waits(tasks)` for cards: the same reasons without any
    figure that moves while nothing about the task is written (a place in line)."""

    async def waits(self, tasks: Sequence[Task]) -> Mapping[int, str]:
        """For the given tasks that wait: task id → "waits for ORCH-3"."""
        ...


class OpenTasks(Protocol):
    """The tasks /queue lists: the pipeline service, or a task store (both stores have it
    beside their TaskStore methods)."""

    async def stage_digest(self, per_stage: int) -> tuple[dict[str, int], list[Task]]:
        """Open tasks counted per stage, and the `per_stage` oldest of each stage."""
        ...
