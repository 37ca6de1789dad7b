"""The /queue ports: blocks other services add, why tasks wait, and the open tasks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.pipeline.tasks import Task
    from core.queue_view import QueueBlock


class QueueBlockSource(Protocol):
    """A service that contributes one block to /queue (reconciler, jobs, lessons)."""

    async def queue_block(self) -> QueueBlock | None:
        """The block as it is now; None to show nothing."""
        ...


class WaitExplainer(Protocol):
    """Says, for tasks that are waiting for something other than a person, what it is."""

    async def waits(self, tasks: Sequence[Task]) -> Mapping[int, str]:
        """For the given tasks that wait: task id → "waits for ORCH-3"."""
        ...


class OpenTasks(Protocol):
    """The tasks /queue lists (the pipeline service)."""

    async def open_tasks(self) -> Sequence[Task]:
        """Every task not done or cancelled, oldest first by time in stage."""
        ...
