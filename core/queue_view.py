"""What `/queue` shows, as data: tasks grouped by stage, and blocks from other services.

Other capabilities (reconciler, dependencies, jobs, lessons) add their own block
through a QueueBlockSource, and may say why a task waits through a WaitExplainer, so
this module never needs to know them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core.clock import Clock
from core.pipeline.stages import BLOCKED, Pipeline, Stage
from core.pipeline.tasks import Task
from core.ports import OpenTasks, QueueBlockSource, WaitExplainer

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    key: str
    title: str
    stage: Stage
    age: timedelta
    why: str | None = None


@dataclass(frozen=True, slots=True)
class QueueBlock:
    """A titled block of plain-text lines, e.g. the reconciler's figures."""

    title: str
    lines: tuple[str, ...]
    data: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueueView:
    generated_at: datetime
    stages: tuple[tuple[Stage, tuple[QueueEntry, ...]], ...]
    waiting: tuple[QueueEntry, ...]
    blocks: tuple[QueueBlock, ...]

    @property
    def active_count(self) -> int:
        return sum(len(entries) for stage, entries in self.stages if stage != BLOCKED)

    @property
    def blocked_count(self) -> int:
        return sum(len(entries) for stage, entries in self.stages if stage == BLOCKED)


class QueueService:
    """Builds the /queue snapshot from open tasks and the registered sources."""

    def __init__(self, tasks: OpenTasks, pipeline: Pipeline, clock: Clock) -> None:
        self._tasks = tasks
        self._pipeline = pipeline
        self._clock = clock
        self._sources: list[QueueBlockSource] = []
        self._explainers: list[WaitExplainer] = []

    def add_source(self, source: QueueBlockSource) -> None:
        self._sources.append(source)

    def add_explainer(self, explainer: WaitExplainer) -> None:
        self._explainers.append(explainer)

    async def snapshot(self) -> QueueView:
        now = self._clock.now()
        tasks = list(await self._tasks.open_tasks())
        waits = await self._collect_waits(tasks)
        entries = [_entry(t, now, waits.get(t.id)) for t in tasks]
        order = [*self._pipeline.active, BLOCKED]
        stages = tuple(
            (stage, tuple(e for e in entries if e.stage == stage and not _waits(e)))
            for stage in order
        )
        waiting = tuple(e for e in entries if _waits(e))
        return QueueView(now, tuple(s for s in stages if s[1]), waiting, await self._blocks())

    async def _collect_waits(self, tasks: list[Task]) -> dict[int, str]:
        found: dict[int, str] = {}
        for explainer in self._explainers:
            try:
                found.update(await explainer.waits(tasks))
            except Exception:
                log.exception("a wait explainer failed; /queue shows less")
        return found

    async def _blocks(self) -> tuple[QueueBlock, ...]:
        blocks: list[QueueBlock] = []
        for source in self._sources:
            try:
                block = await source.queue_block()
            except Exception:
                log.exception("a /queue block source failed; it is left out")
                continue
            if block is not None:
                blocks.append(block)
        return tuple(blocks)


def _entry(task: Task, now: datetime, wait: str | None) -> QueueEntry:
    why = task.reason if task.stage == BLOCKED else wait
    return QueueEntry(task.key, task.title, task.stage, now - task.stage_entered_at, why)


def _waits(entry: QueueEntry) -> bool:
    return entry.why is not None and entry.stage != BLOCKED
