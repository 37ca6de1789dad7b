"""The lesson ports: where lessons live, and what the stage engine reads of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.lessons.journal import Lesson, LessonDraft, LessonFilter, LessonUpdate


class LessonStore(Protocol):
    """Where lessons live (storage.lessons.SqliteLessonStore). Adapters may raise; the
    journal contains it."""

    async def insert(self, draft: LessonDraft, at: datetime, *,
                     duplicate_since: datetime | None) -> int | None:
        """Write a new lesson and return its id. When `duplicate_since` is given and an
        auto lesson of the same type, work item and stage was written at or after it,
        write nothing and return None (checked and written in one transaction)."""
        ...

    async def query(self, query: LessonFilter) -> Sequence[Lesson]:
        """Lessons matching every given filter, newest (highest id) first, at most limit."""
        ...

    async def get(self, lesson_id: int) -> Lesson | None:
        """One lesson by id, if any."""
        ...

    async def update(self, lesson_id: int, change: LessonUpdate, at: datetime, *,
                     expected_version: int | None) -> bool:
        """Apply the non-None fields, stamp updated_at and bump the version; False when
        no such lesson, or it is no longer at `expected_version` (when given)."""
        ...

    async def counts(self) -> Sequence[tuple[str, str, int]]:
        """(lesson_type, status, how many) for every pair present."""
        ...


class LessonsFeed(Protocol):
    """The lessons journal as the stage engine reads it (core.lessons.journal.LessonJournal)."""

    async def open_lessons(self, repo: str, stage: str, limit: int) -> list[str]:
        """Up to `limit` open lessons for work in `repo` at `stage`, as prompt lines."""
        ...
