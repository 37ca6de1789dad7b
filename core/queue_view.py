"""What `/queue` shows, as data: tasks grouped by stage, and blocks from other services.

The summary is cached per section (core/summary/cache.py). The "pipeline" section is
open tasks counted per stage and the oldest of each stage, with one reason for each
shown task that waits; it watches the tasks, jobs and dependencies revisions. Other
capabilities add their own parts:

- `add_source(source, watches=..., fingerprint=...)`: a QueueBlockSource whose block is
  cached while its revisions hold (none given: rebuilt on every request, so keep it cheap);
- `add_view(view)`: sections plus a `block(parts, now)` that composes them at request
  time (e.g. running jobs' elapsed time from their start);
- `add_explainer(explainer, watches=...)`: says why shown tasks wait; the last explainer
  with an answer wins, so register the most telling last.

`summary()` answers from the cache (miss / hit / stale); `snapshot()` and `why()` always
read the current state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.clock import Clock
from core.pipeline.stages import BLOCKED, Pipeline, Stage
from core.pipeline.tasks import Task
from core.ports import (
    OpenTasks,
    QueueBlockSource,
    QueueSectionView,
    RevisionSource,
    WaitExplainer,
)
from core.summary.cache import Cached, Section, SectionCache

log = logging.getLogger(__name__)

SHOWN_PER_STAGE = 25
PIPELINE = "pipeline"
PIPELINE_WATCHES = ("tasks", "jobs", "deps")


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A shown task. Free of the time it is shown at, so it is built once per rebuild."""

    key: str
    title: str
    stage: Stage
    entered_at: datetime  # when it entered its stage
    why: str | None = None

    def age_at(self, now: datetime) -> timedelta:
        return now - self.entered_at


@dataclass(frozen=True, slots=True)
class QueueBlock:
    """A titled block of plain-text lines, e.g. the reconciler's figures."""

    title: str
    lines: tuple[str, ...]
    data: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StageLine:
    """A stage: how many open tasks it holds and the oldest of them."""

    stage: Stage
    count: int
    entries: tuple[QueueEntry, ...]


@dataclass(frozen=True, slots=True)
class QueueView:
    generated_at: datetime
    stages: tuple[StageLine, ...]
    blocks: tuple[QueueBlock, ...]

    @property
    def active_count(self) -> int:
        return sum(line.count for line in self.stages if line.stage != BLOCKED)

    @property
    def blocked_count(self) -> int:
        return sum(line.count for line in self.stages if line.stage == BLOCKED)

    @property
    def waiting(self) -> tuple[QueueEntry, ...]:
        """The shown tasks that wait for something, with their reason."""
        return tuple(e for line in self.stages if line.stage != BLOCKED
                     for e in line.entries if e.why)


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """A /queue answer and how fresh it is: status miss, hit or stale."""

    view: QueueView
    status: str
    revision: str
    as_of: datetime  # when the oldest part of it was built

    @property
    def stale_for(self) -> timedelta | None:
        return self.view.generated_at - self.as_of if self.status == "stale" else None


@dataclass(frozen=True, slots=True)
class PipelineDigest:
    """The pipeline section's data, free of the time it is shown at: the stage lines."""

    lines: tuple[StageLine, ...]
    until: datetime | None = None


class QueueService:
    """Builds the /queue summary from its sections; see the module docstring."""

    def __init__(self, tasks: OpenTasks, pipeline: Pipeline, clock: Clock, *,
                 revisions: RevisionSource | None = None,
                 on_status: Callable[[str], None] | None = None) -> None:
        self._tasks = tasks
        self._pipeline = pipeline
        self._clock = clock
        self._gated = revisions is not None
        self.cache = SectionCache(revisions or _NoRevisions(), clock, on_status)
        self._explainers: list[WaitExplainer] = []
        self._watches: tuple[str, ...] = PIPELINE_WATCHES
        self._blocks: list[Callable[[Mapping[str, Any], datetime], QueueBlock | None]] = []
        self.cache.add(self._pipeline_section())

    def add_source(self, source: QueueBlockSource, *, name: str | None = None,
                   watches: tuple[str, ...] = (),
                   fingerprint: Callable[[], Hashable] | None = None) -> None:
        name = name or f"{type(source).__name__} {len(self._blocks) + 1}"
        self.cache.add(Section(name, source.queue_block, watches, fingerprint))
        self._blocks.append(lambda parts, now: parts.get(name))

    def add_view(self, view: QueueSectionView) -> None:
        for section in view.sections():
            self.cache.add(section)
        self._blocks.append(view.block)

    def add_explainer(self, explainer: WaitExplainer, *, watches: tuple[str, ...] = ()) -> None:
        self._explainers.append(explainer)
        if set(watches) - set(self._watches):
            self._watches = tuple(dict.fromkeys((*self._watches, *watches)))
            self.cache.replace(self._pipeline_section())

    async def summary(self, *, fresh: bool = False) -> QueueSummary:
        """/queue from the cache; `fresh` forces a rebuild of every section."""
        cached = await self.cache.get(fresh=fresh or not self._gated)
        return QueueSummary(self._view(cached), cached.status, cached.revision,
                            cached.built_at)

    async def snapshot(self) -> QueueView:
        """The current state, rebuilt now (and kept for the next summary)."""
        return (await self.summary(fresh=True)).view

    async def why(self, task: Task) -> str | None:
        """The one current reason the task waits, as its card shows it: explainers with a
        `card_waits` (no figure that moves without a write, e.g. a place in line) are
        asked that instead of `waits`."""
        if task.stage == BLOCKED:
            return None
        return (await self._collect_waits([task], card=True)).get(task.id)

    # --- internals -------------------------------------------------------------------

    def _pipeline_section(self) -> Section:
        return Section(PIPELINE, self._build_pipeline, self._watches,
                       until=lambda digest: digest.until)

    async def _build_pipeline(self) -> PipelineDigest:
        counts, oldest = await self._tasks.stage_digest(SHOWN_PER_STAGE)
        waits = await self._collect_waits([t for t in oldest if t.stage != BLOCKED])
        return PipelineDigest(self._stage_lines(counts, oldest, waits), waits.until)

    async def _collect_waits(self, tasks: Sequence[Task], *, card: bool = False) -> Reasons:
        found = Reasons()
        if not tasks:
            return found
        for explainer in self._explainers:
            ask = getattr(explainer, "card_waits", explainer.waits) if card else explainer.waits
            try:
                answer = await ask(tasks)
            except Exception:
                log.exception("a wait explainer failed; /queue shows less")
                continue
            found.update(answer)
            found.hold_until(getattr(answer, "until", None))
        return found

    def _view(self, cached: Cached) -> QueueView:
        now = self._clock.now()
        digest = cached.parts.get(PIPELINE) or PipelineDigest(())
        blocks = []
        for compose in self._blocks:
            try:
                block = compose(cached.parts, now)
            except Exception:
                log.exception("a /queue block failed to compose; it is left out")
                continue
            if block is not None:
                blocks.append(block)
        return QueueView(now, digest.lines, tuple(blocks))

    def _stage_lines(self, counts: Mapping[Stage, int], oldest: Sequence[Task],
                     waits: Mapping[int, str]) -> tuple[StageLine, ...]:
        order = [*self._pipeline.active, BLOCKED]
        order += sorted(set(counts) - set(order))  # a stage no longer configured
        shown: dict[Stage, list[QueueEntry]] = {}
        for task in oldest:
            shown.setdefault(task.stage, []).append(_entry(task, waits.get(task.id)))
        return tuple(StageLine(stage, counts[stage], tuple(shown.get(stage, ())))
                     for stage in order if counts.get(stage))


class Reasons(dict[int, str]):
    """Reasons by task id, and until when the earliest of them holds (None: until the
    data changes)."""

    until: datetime | None = None

    def hold_until(self, moment: datetime | None) -> None:
        if moment is not None and (self.until is None or moment < self.until):
            self.until = moment


class _NoRevisions:
    async def read(self) -> Mapping[str, int]:
        return {}


def _entry(task: Task, wait: str | None) -> QueueEntry:
    why = task.reason if task.stage == BLOCKED else wait
    return QueueEntry(task.key, task.title, task.stage, task.stage_entered_at, why)
