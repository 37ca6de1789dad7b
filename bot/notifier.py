"""The Notifier: domain events in, task cards and pushes out, within the group's budget.

`publish` only takes note and wakes the sender loop, so a move is never slowed by
Telegram. The loop keeps every card current (one message per task, edited in place),
pushes news that needs people once, and when a burst is larger than the budget it
folds the pushes into one digest rather than queueing them for minutes.

Nothing is lost on a crash: the position of the last event whose push was delivered is
a cursor in SQLite, and on start the events after it are read again from the audit
trail. Cards are compared by content hash, so a replay re-sends nothing already shown.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError

from bot import render
from bot.budget import SendBudget
from bot.callbacks import Action, ButtonCodec
from bot.keyboards import task_keyboard
from core.clock import Clock
from core.pipeline.attention import DedupGuard, wants_push
from core.pipeline.progress import finished_stages
from core.pipeline.stages import BLOCKED, CANCELLED, DONE, Pipeline
from core.pipeline.tasks import ChangeKind, Task, TaskEvent
from core.queue_view import QueueBlock
from storage.cards import Card, CardStore, CursorStore
from storage.tasks import SqliteTaskStore

log = logging.getLogger(__name__)

CURSOR = "notifier.last_event"
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
CardNote = Callable[[Task], Awaitable[str | None]]


@dataclass
class NotifierStats:
    messages_sent: int = 0
    edits: int = 0
    pushes: int = 0
    digests: int = 0
    retry_after_waits: int = 0
    errors: int = 0


class TelegramNotifier:
    """Implements core's Notifier port for one Telegram group."""

    def __init__(self, *, bot: Bot, chat_id: int, tasks: SqliteTaskStore, cards: CardStore,
                 cursors: CursorStore, pipeline: Pipeline, clock: Clock, codec: ButtonCodec,
                 budget: SendBudget) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._tasks = tasks
        self._cards = cards
        self._cursors = cursors
        self._pipeline = pipeline
        self._clock = clock
        self._codec = codec
        self.budget = budget
        self.guard = DedupGuard()
        self.stats = NotifierStats()
        self._inbox: deque[TaskEvent] = deque()
        self._dirty: dict[int, None] = {}
        self._pushes: list[TaskEvent] = []
        # in memory: what an alert is about (e.g. tasks blocked on a cycle) is in SQLite
        self._alerts: list[tuple[str, InlineKeyboardMarkup | None]] = []
        self._absorbed_upto = 0
        self._saved_cursor = 0
        self._cooldown_until = clock.now()
        self._wake = asyncio.Event()
        self._resting = asyncio.Event()
        self._notes: list[CardNote] = []

    def add_card_note(self, note: CardNote) -> None:
        """A line for cards from another capability (e.g. 'waits for ORCH-3')."""
        self._notes.append(note)

    # -- the port ---------------------------------------------------------------------

    def publish(self, event: TaskEvent, task: Task) -> None:
        self._inbox.append(event)
        self._poke()

    def refresh(self, task_id: int) -> None:
        """Make sure the task's card shows its current state."""
        self._dirty[task_id] = None
        self._poke()

    async def card_of(self, task_id: int) -> Card | None:
        """Which message is the task's card (for tests, the demo and stale presses)."""
        return await self._cards.get(task_id)

    def alert(self, html_text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        """One push that is about no single task (e.g. a dependency cycle)."""
        self._alerts.append((html_text, markup))
        self._poke()

    def _poke(self) -> None:
        self._resting.clear()
        self._wake.set()

    # -- lifecycle --------------------------------------------------------------------

    async def resume(self) -> None:
        """After a (re)start: replay events past the cursor, re-check every open card."""
        self._saved_cursor = int(await self._cursors.get(CURSOR, "0") or 0)
        self._absorbed_upto = self._saved_cursor
        replay = await self._tasks.events_after(self._saved_cursor, limit=10_000)
        self._inbox.extendleft(reversed(list(replay)))
        for task in await self._tasks.list_open():
            self._dirty.setdefault(task.id, None)
        self._wake.set()

    async def run(self) -> None:
        """The sender loop; owned and cancelled by the runtime."""
        while True:
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # one bad round must not end notifications for good
                self.stats.errors += 1
                log.exception("notifier round failed")
            delay = self._next_delay()
            if delay != 0.0 and not self._wake.is_set():
                self._resting.set()
            await self._wait(delay)
            self._resting.clear()

    @property
    def pending(self) -> int:
        """Cards and pushes waiting to be sent (the outbox's depth)."""
        return len(self._dirty) + len(self._pushes) + len(self._alerts)

    @property
    def idle(self) -> bool:
        """Nothing left to send."""
        return not (self._inbox or self._dirty or self._pushes or self._alerts)

    async def wait_resting(self) -> None:
        """Until the loop has done all it can for now (idle, or waiting for the budget)."""
        await self._resting.wait()

    async def queue_block(self) -> QueueBlock:
        """The notifier's line in /queue: what it said, held back and still owes."""
        s = self.stats
        line = (f"{s.pushes} pushes · {s.digests} digests · {s.messages_sent + s.edits} sent"
                f" · deduped {self.guard.deduped_total} · 429 waits {s.retry_after_waits}"
                f" · budget {self.budget.remaining()}/{self.budget.per_minute} a minute")
        pending = len(self._dirty) + len(self._pushes)
        lines = (line, f"{pending} waiting to be sent") if pending else (line,)
        return QueueBlock("notifier", lines, {"deduped_total": self.guard.deduped_total})

    def seconds_until_ready(self) -> float:
        """How far the clock must move before the loop can send again (tests use it)."""
        cooldown = (self._cooldown_until - self._clock.now()).total_seconds()
        return max(self.budget.wait_s(), cooldown, 0.0)

    async def flush(self) -> None:
        """Absorb new events, then send what the budget allows now."""
        self._absorb()
        await self._send_pushes()
        await self._send_cards()
        await self._save_cursor()

    # -- internals --------------------------------------------------------------------

    def _absorb(self) -> None:
        while self._inbox:
            event = self._inbox.popleft()
            if event.id <= self._saved_cursor:  # handled before a restart
                continue
            self._dirty[event.task_id] = None
            if wants_push(event) and self.guard.admit(event):
                self._pushes.append(event)
            self._absorbed_upto = max(self._absorbed_upto, event.id)

    def _may_send(self) -> bool:
        return self._clock.now() >= self._cooldown_until and self.budget.wait_s() <= 0

    async def _send_pushes(self) -> None:
        while self._alerts and self._may_send():
            if await self._send(*self._alerts[0]) is None:
                return
            self._alerts.pop(0)
            self.stats.pushes += 1
        while self._pushes and self._may_send():
            if len(self._pushes) > 2 and len(self._pushes) > self.budget.remaining() // 2:
                if await self._send(render.digest(self._pushes), None) is None:
                    return
                self.stats.digests += 1
                self._pushes = []
            elif await self._send_push(self._pushes[0]):
                self._pushes.pop(0)
            else:
                return

    async def _send_push(self, event: TaskEvent) -> bool:
        """True when the push is delivered (or no longer has a task to speak of)."""
        task = await self._tasks.get(event.task_id)
        if task is None:
            return True
        message = await self._send(render.push(event, task), self._push_keyboard(event, task))
        if message is None:
            return False
        self.stats.pushes += 1
        return True

    def _push_keyboard(self, event: TaskEvent, task: Task) -> InlineKeyboardMarkup | None:
        if task.version != event.version:
            return None  # the task moved on; its card carries the current buttons
        if event.kind is ChangeKind.NEEDS_APPROVAL:
            return task_keyboard(task, self._pipeline, self._codec, [Action.APPROVE])
        if event.kind in (ChangeKind.BLOCKED, ChangeKind.FAILED):
            return task_keyboard(task, self._pipeline, self._codec,
                                 failed=event.kind is ChangeKind.FAILED)
        return None

    async def _send_cards(self) -> None:
        for task_id in list(self._dirty):
            if not self._may_send():
                return
            done = await self._sync_card(task_id)
            if not done:
                return
            self._dirty.pop(task_id, None)

    async def _sync_card(self, task_id: int) -> bool:
        """Bring one card up to date; False when the budget or Telegram says wait."""
        task = await self._tasks.get(task_id)
        if task is None:
            return True
        text, markup = await self._card_content(task)
        digest = _hash(text, markup)
        card = await self._cards.get(task_id)
        if card is not None and card.content_hash == digest:
            return True
        message_id = await self._put_card(card, text, markup)
        if message_id is None:
            return not self._cooling()
        await self._cards.save(
            Card(task_id, self._chat_id, message_id, task.version, digest), self._clock.now())
        return True

    async def _card_content(self, task: Task) -> tuple[str, InlineKeyboardMarkup | None]:
        note = await self._note(task)
        finished = (finished_stages(await self._tasks.events(task.id), self._pipeline)
                    if task.stage in (DONE, CANCELLED) else None)
        text = render.card(task, self._pipeline, self._clock.now(), note, finished)
        failed = task.stage == BLOCKED and await self._blocked_by_failure(task)
        return text, task_keyboard(task, self._pipeline, self._codec, failed=failed)

    async def _blocked_by_failure(self, task: Task) -> bool:
        """Was the task blocked because its work failed (Retry) rather than by a person?"""
        for event in reversed(await self._tasks.events(task.id, 20)):
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

    async def _put_card(self, card: Card | None, text: str,
                        markup: InlineKeyboardMarkup | None) -> int | None:
        if card is None:
            message = await self._send(text, markup)
            return message.message_id if message else None
        edited = await self._edit(card.message_id, text, markup)
        if edited == "gone":
            message = await self._send(text, markup)
            return message.message_id if message else None
        return card.message_id if edited == "ok" else None

    async def _send(self, text: str, markup: InlineKeyboardMarkup | None) -> Message | None:
        try:
            message = await self._bot.send_message(
                self._chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup,
                link_preview_options=NO_PREVIEW)
        except TelegramError as exc:
            self._failed("send", exc)
            return None
        self.budget.take()
        self.stats.messages_sent += 1
        return message

    async def _edit(self, message_id: int, text: str,
                    markup: InlineKeyboardMarkup | None) -> str:
        try:
            await self._bot.edit_message_text(
                text, chat_id=self._chat_id, message_id=message_id, parse_mode=ParseMode.HTML,
                reply_markup=markup, link_preview_options=NO_PREVIEW)
        except BadRequest as exc:
            lowered = str(exc).lower()
            if "not modified" in lowered:
                return "ok"
            if "not found" in lowered:
                return "gone"
            self._failed("edit", exc)
            return "failed"
        except TelegramError as exc:
            self._failed("edit", exc)
            return "failed"
        self.budget.take()
        self.stats.edits += 1
        return "ok"

    def _failed(self, what: str, exc: TelegramError) -> None:
        if isinstance(exc, RetryAfter):
            self.stats.retry_after_waits += 1
            self._cooldown_until = self._clock.now() + timedelta(
                seconds=_seconds(exc.retry_after))
            log.warning("Telegram asked us to wait %ss before the next %s", exc.retry_after, what)
            return
        self.stats.errors += 1
        log.warning("Telegram refused a %s: %s", what, exc)

    def _cooling(self) -> bool:
        return self._clock.now() < self._cooldown_until

    async def _save_cursor(self) -> None:
        pending = [e.id for e in self._pushes]
        upto = min(pending) - 1 if pending else self._absorbed_upto
        if upto > self._saved_cursor:
            await self._cursors.set(CURSOR, str(upto), self._clock.now())
            self._saved_cursor = upto

    def _next_delay(self) -> float | None:
        if self._inbox:
            return 0.0
        if not (self._dirty or self._pushes or self._alerts):
            return None
        cooldown = (self._cooldown_until - self._clock.now()).total_seconds()
        return max(self.budget.wait_s(), cooldown, 0.5)

    async def _wait(self, delay: float | None) -> None:
        if delay == 0.0:
            return
        waiter = asyncio.ensure_future(self._wake.wait())
        tasks: set[asyncio.Future[object]] = {waiter}  # type: ignore[arg-type]
        if delay is not None:
            tasks.add(asyncio.ensure_future(self._clock.sleep(delay)))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()


def _hash(text: str, markup: InlineKeyboardMarkup | None) -> str:
    payload = text + "\x00" + (str(markup.to_dict()) if markup else "")
    return hashlib.sha256(payload.encode()).hexdigest()


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)

