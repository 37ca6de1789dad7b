"""Sent messages whose buttons no longer apply, and the words that replace them.

A push with Approve whose task moved on, a lesson card whose lesson changed through
another copy of it: each is edited to drop its buttons and say what happened. This
module decides which and with what text; the courier makes the edits within the budget.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.chat.model import OutRow
from core.ports.chat import ButtonRetirements, ChatRenderer, TaskLookup


class Retirements:
    """Which sent messages to strip of their buttons, and their new text."""

    def __init__(self, outbox: ButtonRetirements, tasks: TaskLookup,
                 renderer: ChatRenderer) -> None:
        self._outbox, self._tasks, self._renderer = outbox, tasks, renderer

    async def due(self, limit: int) -> Sequence[tuple[OutRow, str]]:
        """Messages to edit, oldest first; rows with nothing left to edit (their task
        or text gone, never sent) are settled here without a word."""
        found: list[tuple[OutRow, str]] = []
        for retirement in await self._outbox.retirements(limit):
            row = retirement.row
            task = await self._tasks.get(row.task_id or 0)
            if task is None or row.event is None or row.message_id is None:
                await self._outbox.retired(row.id)
            else:
                found.append((row, self._renderer.retired(row.event, task, retirement)))
        for lesson in await self._outbox.lesson_retirements(limit):
            row = lesson.row
            if row.message_id is None or row.body is None:
                await self._outbox.retired(row.id)
            else:
                found.append((row, self._renderer.retired_lesson(row.body, lesson)))
        return found
