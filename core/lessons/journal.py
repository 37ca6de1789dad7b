"""The lessons journal: what went wrong, recorded once, triaged by people, fed to agents.

The pipeline records lessons through one-line hooks (`on_gate_failure`,
`on_retries_spent`, `merge_hold`, `deploy_degraded`); people read and triage them from
the chat and the HTTP API; agents are told the newest open ones for their repo and stage.

The journal is an edge, never the hot path: every public call is never-raise (a failing
store yields None / [] / False / a minimal snapshot, and is logged and counted in
`errors_total`), and with the kill-switch off every call is inert and touches no store.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from core.clock import Clock
from core.config import Settings
from core.pipeline.tasks import Task
from core.ports import LessonStore
from core.queue_view import QueueBlock

log = logging.getLogger(__name__)

T = TypeVar("T")

LESSON_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TEXT_LIMIT = 2000  # a lesson is a note, not a log; the run's log file holds the rest
LINE_LIMIT = 300
MAX_LIMIT = 1000
OPEN = "open"  # a status filter meaning "new or in_progress"


class LessonType(StrEnum):
    """The kinds the pipeline records by itself; people may add free-form ones."""

    GATE_FAILURE = "gate_failure"
    TRANSIENT_RETRY = "transient_retry"
    MERGE_HOLD = "merge_hold"
    DEPLOY_DEGRADED = "deploy_degraded"
    PROCESS_GAP = "process_gap"


class LessonStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class Attribution(StrEnum):
    """Whose fix a lesson needs: the platform (orch, CI, agents), the project, or both."""

    PLATFORM = "platform"
    PROJECT = "project"
    BOTH = "both"


class Source(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class LessonDraft:
    """A lesson about to be written. Only `lesson_type` is required."""

    lesson_type: str
    source: Source = Source.AUTO
    work_item: str | None = None
    task_id: int | None = None
    stage: str | None = None
    agent_role: str | None = None
    repo: str | None = None
    detail: str | None = None
    root_cause: str | None = None
    suggestion: str | None = None
    related_task: str | None = None
    attribution: Attribution | None = None
    target_repo: str | None = None
    target_domain: str | None = None


@dataclass(frozen=True, slots=True)
class Lesson:
    """A written lesson; `version` grows with every change (stale-card checks use it)."""

    id: int
    lesson_type: str
    source: Source
    status: LessonStatus
    version: int
    created_at: datetime
    updated_at: datetime | None = None
    work_item: str | None = None
    task_id: int | None = None
    stage: str | None = None
    agent_role: str | None = None
    repo: str | None = None
    detail: str | None = None
    root_cause: str | None = None
    suggestion: str | None = None
    related_task: str | None = None
    attribution: Attribution | None = None
    target_repo: str | None = None
    target_domain: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status != LessonStatus.CLOSED


@dataclass(frozen=True, slots=True)
class LessonFilter:
    """Which lessons to list, newest first. `status` may also be OPEN."""

    lesson_type: str | None = None
    status: str | None = None
    repo: str | None = None
    stage: str | None = None
    work_item: str | None = None
    since: datetime | None = None
    limit: int = 20
    # with `stage`: also lessons that name no stage (they concern the whole repo)
    or_stageless: bool = False


@dataclass(frozen=True, slots=True)
class LessonUpdate:
    """Fields to change; None leaves a field as it is."""

    status: LessonStatus | None = None
    attribution: Attribution | None = None
    target_repo: str | None = None
    target_domain: str | None = None
    related_task: str | None = None
    root_cause: str | None = None
    suggestion: str | None = None

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))


@dataclass(frozen=True, slots=True)
class LessonsSnapshot:
    """Totals of the journal. `available` is False when the store could not be read."""

    enabled: bool
    available: bool = True
    total: int = 0
    by_type: Mapping[str, int] = field(default_factory=dict)
    by_status: Mapping[str, int] = field(default_factory=dict)
    open_by_type: Mapping[str, int] = field(default_factory=dict)

    @property
    def open_total(self) -> int:
        return sum(self.open_by_type.values())


def draft_problem(draft: LessonDraft) -> str | None:
    """Why a draft cannot be recorded, in words fit for users; None when it can."""
    if not LESSON_TYPE.match(draft.lesson_type or ""):
        return "lesson_type must be a word of lowercase letters, digits and _ (max 40)"
    if draft.source not in set(Source):
        return "source must be auto or manual"
    if draft.attribution is not None and draft.attribution not in set(Attribution):
        return "attribution must be platform, project or both"
    return None


def update_problem(change: LessonUpdate) -> str | None:
    """Why an update cannot be applied, in words fit for users; None when it can."""
    if change.is_empty:
        return "nothing to update"
    if change.status is not None and change.status not in set(LessonStatus):
        return "status must be new, in_progress or closed"
    if change.attribution is not None and change.attribution not in set(Attribution):
        return "attribution must be platform, project or both"
    return None


class LessonJournal:
    """The journal service: record, list, triage, summarise; never raises into callers."""

    def __init__(self, store: LessonStore, clock: Clock, *, enabled: bool = True,
                 dedup_window_s: float = 3600.0) -> None:
        self._store = store
        self._clock = clock
        self.enabled = enabled
        self._window = timedelta(seconds=max(0.0, dedup_window_s))
        self.errors_total = 0
        self.deduplicated_total = 0
        self.rejected_total = 0

    @classmethod
    def from_settings(cls, store: LessonStore, clock: Clock, settings: Settings) -> LessonJournal:
        return cls(store, clock, enabled=settings.lessons_enabled,
                   dedup_window_s=settings.lessons_dedup_window_s)

    async def record(self, draft: LessonDraft) -> int | None:
        """Write a lesson; its id, or None when nothing was written (off, invalid,
        a duplicate auto lesson within the window, or the store failed)."""
        if not self.enabled:
            return None
        return await self._safely("record", lambda: self._record(draft), None)

    async def get(self, query: LessonFilter | None = None) -> list[Lesson]:
        """Lessons matching `query`, newest first; [] when off or the store failed."""
        if not self.enabled:
            return []
        return await self._safely("list", lambda: self._get(query or LessonFilter()), [])

    async def find(self, lesson_id: int) -> Lesson | None:
        """One lesson by id; None when unknown, off, or the store failed."""
        if not self.enabled:
            return None
        return await self._safely("get", lambda: self._store.get(lesson_id), None)

    async def update(self, lesson_id: int, change: LessonUpdate, *,
                     expected_version: int | None = None) -> bool:
        """Apply `change`; False (nothing changed) for an unknown id, an empty or invalid
        change, a lesson no longer at `expected_version`, off, or a store failure."""
        if not self.enabled:
            return False
        return await self._safely(
            "update", lambda: self._update(lesson_id, change, expected_version), False)

    async def snapshot(self) -> LessonsSnapshot:
        """Totals by type and status; minimal (`available` False) when the store failed."""
        if not self.enabled:
            return LessonsSnapshot(enabled=False)
        rows = await self._safely("counts", self._store.counts, None)
        if rows is None:
            return LessonsSnapshot(enabled=True, available=False)
        return _snapshot(rows)

    async def open_lessons(self, repo: str, stage: str, limit: int = 5) -> list[str]:
        """The newest open lessons of a repo and stage (or of the repo as a whole) as
        short lines, for agents' prompts. Closed lessons are never fed."""
        query = LessonFilter(status=OPEN, repo=repo, stage=stage, limit=limit, or_stageless=True)
        found = await self.get(query)
        return [prompt_line(lesson) for lesson in found]

    async def queue_block(self) -> QueueBlock | None:
        """The /queue block: open lessons by type and the newest one; None when off."""
        if not self.enabled:
            return None
        snap = await self.snapshot()
        newest = await self.get(LessonFilter(status=OPEN, limit=1))
        return _queue_block(snap, newest[0] if newest else None)

    # --- hooks the pipeline calls, one line each --------------------------------------

    async def on_gate_failure(self, task: Task, stage: str, role: str | None, gate: str,
                              reason: str) -> int | None:
        """A gate failed and rolled the task back."""
        return await self._hook("gate failure", lambda: _auto(
            LessonType.GATE_FAILURE, task, stage, role, detail=gate, root_cause=reason))

    async def on_retries_spent(self, task: Task, stage: str, role: str | None,
                               reason: str) -> int | None:
        """A job spent its transient-retry budget and failed."""
        return await self._hook("retries spent", lambda: _auto(
            LessonType.TRANSIENT_RETRY, task, stage, role, root_cause=reason))

    async def merge_hold(self, task: Task, reason: str, *, stage: str = "merge",
                         detail: str | None = None) -> int | None:
        """The merge gate held a task back."""
        return await self._hook("merge hold", lambda: _auto(
            LessonType.MERGE_HOLD, task, stage, None, detail=detail, root_cause=reason))

    async def deploy_degraded(self, task: Task, reason: str, *, stage: str = "deploy",
                              detail: str | None = None) -> int | None:
        """A deploy finished degraded (health checks, rollbacks)."""
        return await self._hook("deploy degraded", lambda: _auto(
            LessonType.DEPLOY_DEGRADED, task, stage, None, detail=detail, root_cause=reason))

    async def _record(self, draft: LessonDraft) -> int | None:
        problem = draft_problem(draft)
        if problem is not None:
            self.rejected_total += 1
            log.warning("lessons: refused a %r lesson: %s", draft.lesson_type, problem)
            return None
        now = self._clock.now()
        since = now - self._window if draft.source == Source.AUTO and self._window else None
        lesson_id = await self._store.insert(_tidy(draft), now, duplicate_since=since)
        if lesson_id is None:
            self.deduplicated_total += 1
        return lesson_id

    async def _get(self, query: LessonFilter) -> list[Lesson]:
        bounded = replace(query, limit=min(max(query.limit, 1), MAX_LIMIT),
                          work_item=_key(query.work_item))
        return list(await self._store.query(bounded))

    async def _update(self, lesson_id: int, change: LessonUpdate,
                      expected_version: int | None) -> bool:
        if update_problem(change) is not None:
            self.rejected_total += 1
            return False
        return await self._store.update(lesson_id, change, self._clock.now(),
                                        expected_version=expected_version)

    async def _hook(self, what: str, build: Callable[[], LessonDraft]) -> int | None:
        # Building the draft reads the caller's objects; that must not raise either.
        return await self._safely(what, lambda: self.record(build()), None)

    async def _safely(self, what: str, call: Callable[[], Awaitable[T]], fallback: T) -> T:
        try:
            return await call()
        except Exception:
            self.errors_total += 1
            log.warning("lessons: %s failed; the caller carries on", what, exc_info=True)
            return fallback


def prompt_line(lesson: Lesson) -> str:
    """One plain line about a lesson, for prompts and the /queue block."""
    where = " ".join(p for p in (
        f"at {lesson.stage}" if lesson.stage else "",
        f"({lesson.agent_role})" if lesson.agent_role else "",
        f"on {lesson.work_item}" if lesson.work_item else "") if p)
    what = ": ".join(p for p in (lesson.detail, lesson.root_cause) if p)
    text = f"#{lesson.id} {lesson.lesson_type}" + (f" {where}" if where else "")
    text += f" — {what}" if what else ""
    text += f". Suggestion: {lesson.suggestion}" if lesson.suggestion else ""
    return _clip(" ".join(text.split()), LINE_LIMIT)


def _auto(kind: LessonType, task: Task, stage: str, role: str | None, *,
          detail: str | None = None, root_cause: str | None = None) -> LessonDraft:
    return LessonDraft(kind, Source.AUTO, work_item=task.key, task_id=task.id, stage=stage,
                       agent_role=role, repo=task.repo, detail=detail, root_cause=root_cause)


def _tidy(draft: LessonDraft) -> LessonDraft:
    """Clip long texts and normalise the work item key, so every store sees one form."""
    clipped: dict[str, Any] = {f.name: _clip(value, TEXT_LIMIT) for f in fields(draft)
               if isinstance(value := getattr(draft, f.name), str)
               and f.name not in ("lesson_type", "source", "attribution", "work_item")}
    return replace(draft, **clipped, work_item=_key(draft.work_item))


def _key(work_item: str | None) -> str | None:
    cleaned = (work_item or "").strip().upper()
    return cleaned or None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _snapshot(rows: Sequence[tuple[str, str, int]]) -> LessonsSnapshot:
    by_type: dict[str, int] = {}
    by_status: dict[str, int] = {}
    open_by_type: dict[str, int] = {}
    for lesson_type, status, count in rows:
        by_type[lesson_type] = by_type.get(lesson_type, 0) + count
        by_status[status] = by_status.get(status, 0) + count
        if status != LessonStatus.CLOSED:
            open_by_type[lesson_type] = open_by_type.get(lesson_type, 0) + count
    return LessonsSnapshot(True, True, sum(by_type.values()), _ranked(by_type),
                           _ranked(by_status), _ranked(open_by_type))


def _ranked(counts: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _queue_block(snap: LessonsSnapshot, newest: Lesson | None) -> QueueBlock:
    data: dict[str, object] = {
        "enabled": True, "available": snap.available, "total": snap.total,
        "open": snap.open_total, "open_by_type": dict(snap.open_by_type),
        "newest_open": newest.id if newest else None,
    }
    if not snap.available:
        return QueueBlock("Lessons", ("The journal could not be read just now.",), data)
    if not snap.open_total:
        return QueueBlock("Lessons", (f"No open lessons ({snap.total} in the journal).",), data)
    kinds = " · ".join(f"{kind} {count}" for kind, count in snap.open_by_type.items())
    lines = [f"{snap.open_total} open: {kinds}"]
    if newest is not None:
        lines.append("newest: " + prompt_line(newest))
    return QueueBlock("Lessons", tuple(lines), data)
