"""The chat's ports: the inbox of updates, the outbox of messages and the cards, how text
is made (ChatRenderer) and sent (ChatSender). Used by core/chat's Inbox and Courier
(and UnitOfWork by the bot's handlers);
adapters in storage/chat_inbox.py, storage/chat_outbox.py, bot/chat_render.py and
bot/chat_sender.py; fakes of the outer two in tests/chat_fakes.py."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from core.chat.model import (
        LessonRetirement,
        OutRow,
        Rendered,
        Retirement,
        RowKind,
        SendResult,
        ShownCard,
    )
    from core.pipeline.tasks import ChangeKind, Task, TaskEvent

Mark = tuple["ChangeKind", str]
Payload = dict[str, Any]


class InboxStore(Protocol):
    """Updates as Telegram sent them, and whether each has been handled."""

    async def put(self, updates: Sequence[Payload], at: datetime) -> Sequence[int]:
        """Store updates not seen before; returns the update ids that are new."""
        ...

    async def pending(self, limit: int) -> Sequence[tuple[int, Payload]]:
        """Updates stored but not handled, oldest first."""
        ...

    async def next_offset(self) -> int:
        """The offset that confirms everything stored."""
        ...

    async def mark_handled(self, update_id: int, at: datetime) -> None:
        """Handled without a change of its own (a no-op if its change marked it)."""
        ...

    def handling(self, update_id: int, at: datetime) -> AbstractContextManager[object]:
        """Within it, the first write transaction also marks the update handled."""
        ...


class UnitOfWork(Protocol):
    """Writes that belong together: an update's change and the reply that reports it."""

    def atomic(self) -> AbstractAsyncContextManager[None]:
        """Within it, every write of the calling task commits as one, with the update's
        handled mark, or none does (a crash in between loses neither nor repeats one)."""
        ...


class OutboxQueue(Protocol):
    """Promised messages and their delivery: every state change one statement."""

    async def add(self, kind: RowKind, at: datetime, *, chat_id: int | None = None,
                  body: str | None = None, markup: str | None = None,
                  reply_to: int | None = None, edit_message_id: int | None = None,
                  task_id: int | None = None, once_per_s: float | None = None,
                  lesson: tuple[int, int] | None = None) -> int | None:
        """A new row; with `once_per_s`, None if the chat had this kind that recently;
        `lesson` (id, version): a lesson card, its buttons retired when the lesson moves."""
        ...

    async def open_rows(self, limit: int) -> Sequence[OutRow]:
        """Pending rows, oldest first, events joined with their task event."""
        ...

    async def begin(self, row_id: int | None, at: datetime, *, group: bool,
                    card_of: Task | None = None) -> int:
        """Mark a row 'sending' (a card: insert one) and spend budget, in one transaction."""
        ...

    async def sent(self, row_id: int, message_id: int | None, at: datetime, *,
                   live_buttons: bool, card: ShownCard | None = None,
                   mark: tuple[int, Mark] | None = None) -> None:
        """Record the delivery: state, message id and the card or mark it makes true."""
        ...

    async def reopen(self, row_id: int, not_before: datetime | None, *, give_up: bool) -> None:
        """A send that did not land: pending again (from `not_before`), or given up."""
        ...

    async def skip(self, row_ids: Sequence[int], marks: Sequence[tuple[int, Mark]]) -> None:
        """Events that need no push (or a repeat): settled, with the guard's new marks."""
        ...


class OutboxUpkeep(Protocol):
    """What the courier does with rows besides sending them."""

    async def fold(self, row_ids: Sequence[int], body: str, at: datetime,
                   marks: Sequence[tuple[int, Mark]]) -> int:
        """Pushes folded into one new digest row; returns its id."""
        ...

    async def recover(self) -> Sequence[OutRow]:
        """After a crash: rows left 'sending' may have gone out; reopen them as suspect."""
        ...

    async def prune(self, before: datetime) -> int:
        """Forget what was settled long ago (the inbox's handled updates too)."""
        ...

    async def marks(self) -> dict[int, Mark]:
        """The dedup guard's memory: the last (kind, stage) pushed per task."""
        ...

    async def open_count(self) -> int:
        """How many rows are still to be sent (the outbox's depth)."""
        ...


class SendLedger(Protocol):
    """The group's budget (send times) and the courier's counters, across restarts."""

    async def spend(self, at: datetime) -> None:
        """One edit counted against the group's budget."""
        ...

    async def sends_since(self, since: datetime) -> Sequence[datetime]:
        """When the group's messages and edits went out, oldest first."""
        ...

    async def count(self, name: str, n: int = 1) -> None:
        """Add `n` to a counter (pushes, 429 waits, give-ups...)."""
        ...

    async def counters(self) -> dict[str, int]:
        """Every counter by name."""
        ...


class ButtonRetirements(Protocol):
    """Sent pushes whose buttons no longer apply."""

    async def retirements(self, limit: int) -> Sequence[Retirement]:
        """Sent pushes with buttons whose task has moved on since, with what happened."""
        ...

    async def retired(self, row_id: int) -> None:
        """The push no longer offers buttons."""
        ...

    async def lesson_retirements(self, limit: int) -> Sequence[LessonRetirement]:
        """Sent lesson cards with buttons for a version of their lesson that is gone."""
        ...

    async def lesson_shown(self, lesson_id: int, version: int, message_id: int) -> None:
        """The lesson card at `message_id` now shows `version`: its buttons still apply."""
        ...


class OutboxStore(OutboxQueue, OutboxUpkeep, SendLedger, ButtonRetirements, Protocol):
    """Everything the courier keeps in SQLite (storage.chat_outbox.SqliteOutbox)."""


class CardStore(Protocol):
    """Which message shows each task, and which tasks changed since it was shown."""

    async def get(self, task_id: int) -> ShownCard | None:
        """The task's one card, if it has been sent."""
        ...

    async def save(self, card: ShownCard, at: datetime) -> None:
        """The card now shows this version and content."""
        ...

    async def changed_since_shown(self, limit: int) -> Sequence[int]:
        """Tasks whose card is missing or shows an older version: all a restart renders."""
        ...


class TaskLookup(Protocol):
    """Reads the task a message is about (storage.tasks.SqliteTaskStore)."""

    async def get(self, task_id: int) -> Task | None:
        """The task as it is now, or None."""
        ...


class ChatRenderer(Protocol):
    """Telegram's text for the courier's decisions (bot.chat_render.TelegramRenderer)."""

    async def card(self, task: Task) -> Rendered:
        """The task's card with the buttons its stage offers."""
        ...

    def push(self, event: TaskEvent, task: Task) -> Rendered:
        """News that needs people, with buttons only while the task is still there."""
        ...

    def digest(self, events: Sequence[TaskEvent]) -> str:
        """Many pushes in one message, naming each task that needs a person and how."""
        ...

    def retired(self, event: TaskEvent, task: Task, why: Retirement) -> str:
        """A push without its buttons, saying what happened since."""
        ...

    def retired_lesson(self, card: str, why: LessonRetirement) -> str:
        """A lesson card (its text as sent) without its buttons, saying where it is now."""
        ...


class ChatSender(Protocol):
    """Delivers one message or edit; never raises, says what happened
    (bot.chat_sender.TelegramChatSender)."""

    async def send(self, chat_id: int | None, text: str, markup: str | None,
                   reply_to: int | None) -> SendResult:
        """A new message (chat_id None: the team's group)."""
        ...

    async def edit(self, chat_id: int | None, message_id: int, text: str,
                   markup: str | None) -> SendResult:
        """A change to a message already sent."""
        ...
