"""Stand-ins for the lesson ports: a LessonStore in memory honouring SqliteLessonStore's
rules (it passes the same contract tests), stores that fail or must not be touched, and
the engine's lessons feed and hooks, recording their calls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from core.lessons.journal import OPEN, Lesson, LessonDraft, LessonFilter, LessonStatus, LessonUpdate
from core.pipeline.tasks import Task


class InMemoryLessonStore:
    """Lessons in a dict; ids grow, newest first is highest id first."""

    def __init__(self) -> None:
        self._lessons: dict[int, Lesson] = {}

    async def insert(self, draft: LessonDraft, at: datetime, *,
                     duplicate_since: datetime | None) -> int | None:
        if duplicate_since is not None and any(
                _same_auto(x, draft) and x.created_at >= duplicate_since
                for x in self._lessons.values()):
            return None
        lesson_id = max(self._lessons, default=0) + 1
        values = {f.name: getattr(draft, f.name) for f in fields(draft)}
        self._lessons[lesson_id] = Lesson(id=lesson_id, status=LessonStatus.NEW, version=1,
                                          created_at=at, **values)
        return lesson_id

    async def query(self, query: LessonFilter) -> Sequence[Lesson]:
        found = [x for x in self._lessons.values() if _matches(x, query)]
        return sorted(found, key=lambda x: -x.id)[: query.limit]

    async def get(self, lesson_id: int) -> Lesson | None:
        return self._lessons.get(lesson_id)

    async def update(self, lesson_id: int, change: LessonUpdate, at: datetime, *,
                     expected_version: int | None) -> bool:
        before = self._lessons.get(lesson_id)
        if before is None or expected_version not in (None, before.version):
            return False
        values = {f.name: getattr(change, f.name) for f in fields(change)
                  if getattr(change, f.name) is not None}
        self._lessons[lesson_id] = replace(before, **values, version=before.version + 1,
                                           updated_at=at)
        return True

    async def counts(self) -> Sequence[tuple[str, str, int]]:
        counted: dict[tuple[str, str], int] = {}
        for x in self._lessons.values():
            counted[(x.lesson_type, x.status)] = counted.get((x.lesson_type, x.status), 0) + 1
        return [(kind, status, n) for (kind, status), n in counted.items()]


def _same_auto(lesson: Lesson, draft: LessonDraft) -> bool:
    return lesson.source == "auto" and (lesson.lesson_type, lesson.work_item, lesson.stage) == (
        draft.lesson_type, draft.work_item, draft.stage)


def _matches(lesson: Lesson, q: LessonFilter) -> bool:
    checks = (
        q.lesson_type is None or lesson.lesson_type == q.lesson_type,
        q.status is None or lesson.status == q.status or (q.status == OPEN and lesson.is_open),
        q.repo is None or lesson.repo == q.repo,
        q.stage is None or lesson.stage == q.stage or (q.or_stageless and lesson.stage is None),
        q.work_item is None or lesson.work_item == q.work_item,
        q.since is None or lesson.created_at >= q.since,
    )
    return all(checks)


class FailingLessonStore:
    """Every call fails, as a broken database would."""

    def __getattr__(self, name: str) -> Any:
        async def fail(*args: object, **kwargs: object) -> Any:
            raise RuntimeError(f"database down ({name})")
        return fail


class UntouchableLessonStore:
    """Notes and refuses any access at all: the kill-switch must never reach a store."""

    def __init__(self) -> None:
        self.touched: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.touched.append(name)
        raise AssertionError(f"the store was touched: {name}")


@dataclass
class RecordingLessons:
    """The lessons hooks and feed the stage engine takes, recording their calls."""

    lines: list[str] = field(default_factory=list)
    gate_failures: list[tuple[str, str, str, str]] = field(default_factory=list)
    retries_spent: list[tuple[str, str, str]] = field(default_factory=list)
    fail: bool = False

    async def open_lessons(self, repo: str, stage: str, limit: int) -> list[str]:
        if self.fail:
            raise RuntimeError("journal down")
        return self.lines[:limit]

    async def on_gate_failure(self, task: Task, stage: str, role: str | None, gate: str,
                              reason: str) -> None:
        self.gate_failures.append((task.key, stage, gate, reason))
        if self.fail:
            raise RuntimeError("journal down")

    async def on_retries_spent(self, task: Task, stage: str, role: str | None,
                               reason: str) -> None:
        self.retries_spent.append((task.key, stage, reason))
        if self.fail:
            raise RuntimeError("journal down")
