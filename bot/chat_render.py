"""The courier's words: cards, pushes, digests and retired pushes as Telegram HTML."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from bot import render
from bot.callbacks import Action, ButtonCodec
from bot.chat_sender import markup_json
from bot.keyboards import task_keyboard
from core.chat.decide import digest_lines
from core.chat.model import LessonRetirement, Rendered, Retirement
from core.clock import Clock
from core.pipeline.progress import finished_stages
from core.pipeline.service import PipelineService
from core.pipeline.stages import BLOCKED, CANCELLED, DONE
from core.pipeline.tasks import ChangeKind, Task, TaskEvent

log = logging.getLogger(__name__)

CardNote = Callable[[Task], Awaitable[str | None]]
DONE_BY = {
    ChangeKind.APPROVED: "✓ approved", ChangeKind.UNBLOCKED: "✓ unblocked",
    ChangeKind.CANCELLED: "✖️ cancelled", ChangeKind.DONE: "✓ done",
    ChangeKind.BLOCKED: "⛔ blocked", ChangeKind.FAILED: "❌ failed",
    ChangeKind.ROLLED_BACK: "↩️ rolled back", ChangeKind.ADVANCED: "→ moved on",
    ChangeKind.NEEDS_APPROVAL: "→ moved on",
}


class TelegramRenderer:
    """Implements ChatRenderer; card notes come from other capabilities (deps)."""

    def __init__(self, pipeline: PipelineService, codec: ButtonCodec, clock: Clock) -> None:
        self._pipeline = pipeline
        self._codec = codec
        self._clock = clock
        self._notes: list[CardNote] = []

    def add_card_note(self, note: CardNote) -> None:
        """A line for cards from another capability (e.g. 'waits for ORCH-3')."""
        self._notes.append(note)

    async def card(self, task: Task) -> Rendered:
        finished = (finished_stages(await self._pipeline.history(task.id),
                                    self._pipeline.stages)
                    if task.stage in (DONE, CANCELLED) else None)
        text = render.card(task, self._pipeline.stages, self._clock.now(),
                           await self._note(task), finished)
        failed = task.stage == BLOCKED and await self._blocked_by_failure(task)
        return Rendered(text, markup_json(task_keyboard(task, self._pipeline.stages,
                                                        self._codec, failed=failed)))

    def push(self, event: TaskEvent, task: Task) -> Rendered:
        markup = None
        if task.version == event.version:  # else the card carries the current buttons
            if event.kind is ChangeKind.NEEDS_APPROVAL:
                markup = task_keyboard(task, self._pipeline.stages, self._codec,
                                       [Action.APPROVE])
            elif event.kind in (ChangeKind.BLOCKED, ChangeKind.FAILED):
                markup = task_keyboard(task, self._pipeline.stages, self._codec,
                                       failed=event.kind is ChangeKind.FAILED)
        return Rendered(render.push(event, task), markup_json(markup))

    def digest(self, events: Sequence[TaskEvent]) -> str:
        text = render.digest(events)
        needs = [f"{line.key} ({line.action})" for line in digest_lines(events) if line.action]
        if needs:
            text += "\n🙋 needs a person: " + render.esc(", ".join(needs))
        return text

    def retired(self, event: TaskEvent, task: Task, why: Retirement) -> str:
        """The push as it was, without buttons, and what happened since."""
        text = render.push(event, task)
        after = why.next_event
        if after is None:
            return text + f"\n<i>now {render.esc(task.stage)}</i>"
        what = DONE_BY.get(after.kind, f"→ {after.to_stage}")
        who = why.who or after.actor.split(":")[0]
        at = after.at.strftime("%H:%M")
        return text + f"\n<i>{render.esc(what)} by {render.esc(who)} at {at}</i>"

    def retired_lesson(self, card: str, why: LessonRetirement) -> str:
        """The lesson card as it was, without buttons, and where the lesson is now."""
        if why.status is None:
            return card + "\n<i>this lesson is no longer in the journal</i>"
        at = f" at {why.at.strftime('%H:%M')}" if why.at else ""
        return (card + f"\n<i>now {render.esc(why.status)}{at}; /lesson {why.row.lesson_id} "
                       f"shows it as it is</i>")

    async def _blocked_by_failure(self, task: Task) -> bool:
        """Was the task blocked because its work failed (Retry) rather than by a person?"""
        for event in reversed(await self._pipeline.history(task.id, 20)):
            if event.to_stage == BLOCKED and event.from_stage != BLOCKED:
                return event.kind is ChangeKind.FAILED
        return False

    async def _note(self, task: Task) -> str | None:
        lines = []
        for note in self._notes:
            try:
                line = await note(task)
            except Exception:
                log.exception("card note failed for %s", task.key)
                continue
            if line:
                lines.append(line)
        return "\n".join(lines) or None  # one line per capability
