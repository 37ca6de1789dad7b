"""The courier: the one sender that drains the outbox into the group within one budget.

Every message is a row in SQLite before it is sent (events by a trigger in the same
transaction as the change, replies and alerts by whoever says them). A round decides
which events deserve a push (and folds them into a digest when the budget is short),
sends replies and pushes in order, brings each task's one card up to date, and edits
old pushes whose buttons no longer apply. A row is 'sending' only inside one round
trip, so a crash can at worst repeat that one message, and the restart says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from core.chat import decide
from core.chat.budget import GroupBudget
from core.chat.model import (
    TALK,
    ChatStats,
    OutRow,
    Rendered,
    RowKind,
    SendOutcome,
    SendResult,
    ShownCard,
)
from core.chat.retire import Retirements
from core.clock import Clock
from core.pipeline.attention import DedupGuard, wants_push
from core.pipeline.tasks import Task, TaskEvent
from core.ports.chat import CardStore, ChatRenderer, ChatSender, Mark, OutboxStore, TaskLookup
from core.queue_view import QueueBlock

log = logging.getLogger(__name__)

BATCH = 500
REFUSAL_EVERY_S = 3600.0
KEEP = timedelta(days=7)  # settled rows and handled updates, for the curious


class Courier:
    """Implements core's Notifier port for the team's group; owned by the runtime."""

    def __init__(self, *, outbox: OutboxStore, cards: CardStore, tasks: TaskLookup,
                 renderer: ChatRenderer, sender: ChatSender, clock: Clock,
                 per_minute: int = 18) -> None:
        self._outbox, self._cards, self._tasks = outbox, cards, tasks
        self._renderer, self._sender, self._clock = renderer, sender, clock
        self._retirements = Retirements(outbox, tasks, renderer)
        # Telegram's pace is about one a second; a sandbox allowed more keeps the ratio
        self.budget = GroupBudget(per_minute, burst=max(3, per_minute // 20))
        self.guard = DedupGuard()
        self.stats = ChatStats()
        self._dirty: dict[int, None] = {}
        self._pushes: dict[int, bool] = {}  # event row id -> decided to push
        self._cooldown_until = clock.now()
        self._due: datetime | None = None
        self._idle = False
        self._pokes = 0
        self._open_rows = 0
        self._wake = asyncio.Event()
        self._resting = asyncio.Event()

    # -- what others call ------------------------------------------------------------

    def publish(self, event: TaskEvent, task: Task) -> None:
        """The change's row is in SQLite already (same transaction): just wake up."""
        self._poke()

    def refresh(self, task_id: int) -> None:
        """Make sure the task's card shows its current state (e.g. its waits changed)."""
        self._dirty[task_id] = None
        self._poke(0)

    async def card_of(self, task_id: int) -> ShownCard | None:
        return await self._cards.get(task_id)

    async def say(self, text: str, *, markup: str | None = None,
                  reply_to: int | None = None, lesson: tuple[int, int] | None = None) -> None:
        """A reply in the group, in order, within the budget; `lesson`: a lesson's card."""
        await self._outbox.add(RowKind.REPLY, self._clock.now(), body=text, markup=markup,
                               reply_to=reply_to, lesson=lesson)
        self._poke()

    async def lesson_shown(self, lesson_id: int, version: int, message_id: int) -> None:
        """This card now shows `version` (it keeps its buttons); other copies lose theirs."""
        await self._outbox.lesson_shown(lesson_id, version, message_id)
        self._poke()

    async def alert(self, text: str) -> None:
        """A push about no single task (a dependency cycle)."""
        await self._outbox.add(RowKind.ALERT, self._clock.now(), body=text)
        self._poke()

    async def edit_later(self, message_id: int, text: str, markup: str | None) -> None:
        await self._outbox.add(RowKind.EDIT, self._clock.now(), body=text, markup=markup,
                               edit_message_id=message_id)
        self._poke()

    async def refuse(self, chat_id: int, text: str, reply_to: int | None = None) -> bool:
        """One refusal an hour to a chat that is not the team's; False if held back."""
        added = await self._outbox.add(RowKind.REFUSAL, self._clock.now(), chat_id=chat_id,
                                       body=text, reply_to=reply_to,
                                       once_per_s=REFUSAL_EVERY_S)
        self._poke(int(added is not None))
        return added is not None

    # -- lifecycle ---------------------------------------------------------------------

    async def resume(self) -> None:
        """After a (re)start: own up to rows caught mid-send, load budget, guard, cards."""
        for row in await self._outbox.recover():
            log.warning("outbox row %s (%s%s) may have been sent twice: orch stopped during "
                        "its send", row.id, row.kind, f" task {row.task_id}" if row.task_id
                        else "")
        now = self._clock.now()
        await self._outbox.prune(now - KEEP)
        self.budget = GroupBudget(self.budget.per_minute, self.budget.burst,
                                  await self._outbox.sends_since(now - timedelta(seconds=60)))
        self.stats = ChatStats.loaded(dict(await self._outbox.counters()))
        self.guard = DedupGuard(await self._outbox.marks(), self.stats.deduped)
        for task_id in await self._cards.changed_since_shown(100_000):
            self._dirty.setdefault(task_id, None)
        self._open_rows = await self._outbox.open_count()
        self._poke(0)

    async def run(self) -> None:
        """The sender loop; owned and cancelled by the runtime."""
        while True:
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # one bad round must not end the chat for good
                await self._count("errors")
                log.exception("courier round failed")
                self._idle = False
            delay = self._next_delay()
            if delay != 0.0 and not self._wake.is_set():
                self._resting.set()
            await self._wait(delay)
            self._resting.clear()

    @property
    def pending(self) -> int:
        """Messages and cards still to be sent (the outbox's depth, as of the last round)."""
        return self._open_rows + len(self._dirty)

    @property
    def idle(self) -> bool:
        """Nothing left to send."""
        return self._idle

    async def wait_resting(self) -> None:
        """Until the loop has done all it can for now (idle, or waiting for the budget)."""
        await self._resting.wait()

    def seconds_until_ready(self) -> float:
        """How far the clock must move before the loop can send again (tests use it)."""
        now = self._clock.now()
        waits = [self.budget.wait_s(now), (self._cooldown_until - now).total_seconds()]
        if self._due is not None:
            waits.append((self._due - now).total_seconds())
        return max(*waits, 0.0)

    async def queue_block(self) -> QueueBlock:
        """The chat's line in /queue: what it said, held back, waited for and gave up."""
        s, now = self.stats, self._clock.now()
        line = (f"{s.pushes} pushes · {s.digests} digests · {s.sent + s.edits} sent · "
                f"deduped {self.guard.deduped_total} · 429 waits {s.retry_after_waits} · "
                f"retries {s.retries} · gave up {s.give_ups} · budget "
                f"{self.budget.remaining(now)}/{self.budget.per_minute} a minute")
        lines = [line]
        if s.maybe_twice:
            lines.append(f"{s.maybe_twice} may have been sent twice (orch stopped mid-send)")
        return QueueBlock("notifier", tuple(lines), {"deduped_total": self.guard.deduped_total,
                                                     "retry_after_waits": s.retry_after_waits})

    # -- one round ---------------------------------------------------------------------

    async def flush(self) -> None:
        """Decide, then send what the budget allows now: talk and pushes, cards, retirements."""
        self._due = None
        pokes = self._pokes
        self._open_rows = await self._outbox.open_count()
        rows = await self._outbox.open_rows(BATCH)
        pushes = await self._decide(rows)
        talk = [r for r in rows if r.kind in TALK]
        group_talk = sum(1 for r in talk if r.chat_id is None)
        if decide.should_fold(len(pushes), group_talk, self.budget.remaining(self._now())):
            await self._fold(pushes)
            rows = await self._outbox.open_rows(BATCH)
            pushes, talk = [], [r for r in rows if r.kind in TALK]
        queue = sorted(talk + pushes, key=lambda r: r.id)
        done = await self._deliver_all(queue) and await self._sync_cards()
        done = done and await self._retire()
        # news that arrived during the round is for the next one
        self._idle = done and len(rows) < BATCH and self._due is None and pokes == self._pokes

    async def _decide(self, rows: Sequence[OutRow]) -> list[OutRow]:
        """Events become card refreshes; those with news for people stay as pushes."""
        skipped: list[int] = []
        pushes: list[OutRow] = []
        for row in rows:
            if row.kind is not RowKind.EVENT or row.event is None:
                continue
            self._dirty.setdefault(row.event.task_id, None)
            if row.id not in self._pushes:
                before = self.guard.deduped_total
                self._pushes[row.id] = wants_push(row.event) and self.guard.admit(row.event)
                if self.guard.deduped_total > before:
                    await self._count("deduped")
            if self._pushes[row.id]:
                pushes.append(row)
            else:
                skipped.append(row.id)
        if skipped:
            await self._outbox.skip(skipped, [])
            self._settled(len(skipped))
        return pushes

    async def _fold(self, pushes: Sequence[OutRow]) -> None:
        events = [r.event for r in pushes if r.event is not None]
        await self._outbox.fold([r.id for r in pushes], self._renderer.digest(events),
                                self._now(), [(e.task_id, _mark(e)) for e in events])
        for row in pushes:
            self._pushes.pop(row.id, None)
        self._settled(len(pushes) - 1)  # the digest is one row still to send
        await self._count("digests")

    async def _deliver_all(self, queue: Sequence[OutRow]) -> bool:
        for row in queue:
            if row.not_before is not None and row.not_before > self._now():
                self._due = min(self._due or row.not_before, row.not_before)
                if row.chat_id is None:
                    return True  # replies keep their order: nothing overtakes this one
                continue
            if not await self._deliver(row):
                return False
        return True

    async def _deliver(self, row: OutRow) -> bool:
        """Send one row; False when the budget or Telegram says: not now."""
        group = row.chat_id is None
        if group and not self._may_send():
            return False
        content = await self._content(row)
        if content is None:  # the task it was about is gone
            await self._outbox.skip([row.id], [])
            self._settled(1)
            return True
        now = self._now()
        await self._outbox.begin(row.id, now, group=group)
        if group:
            self.budget.take(now)
        if row.kind is RowKind.EDIT and row.edit_message_id is not None:
            delivery = await self._sender.edit(row.chat_id, row.edit_message_id,
                                               content.text, content.markup)
        else:
            delivery = await self._sender.send(row.chat_id, content.text, content.markup,
                                               row.reply_to)
        return await self._after(row, delivery, live=content.markup is not None
                                 and (row.kind is RowKind.EVENT or row.lesson_id is not None))

    async def _content(self, row: OutRow) -> Rendered | None:
        if row.kind is not RowKind.EVENT:
            return Rendered(row.body or "", row.markup)
        assert row.event is not None
        task = await self._tasks.get(row.event.task_id)
        return self._renderer.push(row.event, task) if task else None

    async def _after(self, row: OutRow, delivery: SendResult, *, live: bool) -> bool:
        now = self._now()
        if delivery.landed or (delivery.outcome is SendOutcome.GONE and row.kind is RowKind.EDIT):
            mark = (row.event.task_id, _mark(row.event)) if row.event else None
            await self._outbox.sent(row.id, delivery.message_id, now, live_buttons=live,
                                    mark=mark)
            self._pushes.pop(row.id, None)
            self._settled(1)
            await self._count("pushes" if row.kind in (RowKind.EVENT, RowKind.ALERT) else
                              "edits" if row.kind is RowKind.EDIT else "sent")
            return True
        return await self._failed(row, delivery)

    async def _failed(self, row: OutRow, delivery: SendResult) -> bool:
        if delivery.outcome is SendOutcome.RETRY_AFTER:
            await self._cool(delivery)
            await self._outbox.reopen(row.id, None, give_up=False)
            return False
        delay = decide.retry_delay(row.attempts + 1)
        if delivery.outcome is SendOutcome.TRANSIENT and delay is not None:
            await self._count("retries")
            not_before = self._now() + timedelta(seconds=delay)
            await self._outbox.reopen(row.id, not_before, give_up=False)
            self._due = min(self._due or not_before, not_before)
            return row.chat_id is not None  # the group's order waits for this row
        log.warning("gave up on outbox row %s (%s): %s", row.id, row.kind, delivery.detail)
        await self._count("give_ups")
        await self._outbox.reopen(row.id, None, give_up=True)
        self._settled(1)
        return True

    async def _cool(self, delivery: SendResult) -> None:
        await self._count("retry_after_waits")
        self._cooldown_until = self._now() + timedelta(seconds=delivery.retry_after_s)
        log.warning("Telegram asked us to wait %ss", delivery.retry_after_s)

    # -- cards -------------------------------------------------------------------------

    async def _sync_cards(self) -> bool:
        for task_id in list(self._dirty):
            task = await self._tasks.get(task_id)
            if task is not None and not await self._sync_card(task):
                return False
            self._dirty.pop(task_id, None)
        return True

    async def _sync_card(self, task: Task) -> bool:
        """Bring one card up to date; False when the budget or Telegram says wait."""
        rendered = await self._renderer.card(task)
        digest = rendered.fingerprint()
        card = await self._cards.get(task.id)
        if card is not None and card.content_hash == digest:
            if card.shown_version != task.version:  # so a restart need not render it again
                await self._cards.save(ShownCard(task.id, card.message_id, task.version,
                                                 digest), self._now())
            return True
        if not self._may_send():
            return False
        now = self._now()
        if card is None:
            return await self._first_card(task, rendered, digest)
        await self._outbox.spend(now)
        self.budget.take(now)
        delivery = await self._sender.edit(None, card.message_id, rendered.text,
                                           rendered.markup)
        if delivery.landed:
            await self._cards.save(ShownCard(task.id, card.message_id, task.version, digest),
                                   now)
            await self._count("edits")
            return True
        if delivery.outcome is SendOutcome.GONE:  # deleted in the chat: a new card next round
            await self._cards.save(ShownCard(task.id, card.message_id, task.version, ""), now)
            self._dirty[task.id] = None
            return True
        return await self._card_failed(delivery)

    async def _first_card(self, task: Task, rendered: Rendered, digest: str) -> bool:
        now = self._now()
        row_id = await self._outbox.begin(None, now, group=True, card_of=task)
        self.budget.take(now)
        delivery = await self._sender.send(None, rendered.text, rendered.markup, None)
        if delivery.outcome is SendOutcome.SENT and delivery.message_id is not None:
            card = ShownCard(task.id, delivery.message_id, task.version, digest)
            await self._outbox.sent(row_id, delivery.message_id, now, live_buttons=False,
                                    card=card)
            await self._count("sent")
            return True
        await self._outbox.reopen(row_id, None, give_up=True)  # cards are redone, not retried
        return await self._card_failed(delivery)

    async def _card_failed(self, delivery: SendResult) -> bool:
        if delivery.outcome is SendOutcome.RETRY_AFTER:
            await self._cool(delivery)
            return False
        if delivery.outcome is SendOutcome.TRANSIENT:
            await self._count("retries")
            self._due = self._now() + timedelta(seconds=decide.BACKOFF_S[0])
            return False
        await self._count("give_ups")
        log.warning("gave up on a card: %s", delivery.detail)
        return True

    # -- buttons that no longer apply ----------------------------------------------------

    async def _retire(self) -> bool:
        for row, text in await self._retirements.due(50):
            if not await self._strip(row, text):
                return False
        return True

    async def _strip(self, row: OutRow, text: str) -> bool:
        """Edit a sent message to `text` without buttons, within the budget; False when
        the budget or Telegram says wait (the row stays live and is tried again)."""
        assert row.message_id is not None
        if not self._may_send():
            return False
        now = self._now()
        await self._outbox.spend(now)
        self.budget.take(now)
        delivery = await self._sender.edit(None, row.message_id, text, None)
        if delivery.outcome is SendOutcome.RETRY_AFTER:
            await self._cool(delivery)
            return False
        if delivery.outcome is SendOutcome.TRANSIENT:
            self._due = now + timedelta(seconds=decide.BACKOFF_S[0])
            return False
        await self._outbox.retired(row.id)
        await self._count("edits")
        return True

    def _now(self) -> datetime:
        return self._clock.now()

    def _may_send(self) -> bool:
        now = self._now()
        return now >= self._cooldown_until and self.budget.wait_s(now) <= 0

    async def _count(self, name: str) -> None:
        self.stats.bump(name)
        try:
            await self._outbox.count(name)
        except Exception:  # a counter must never stop a send
            log.exception("could not count %s", name)

    def _settled(self, rows: int) -> None:
        self._open_rows = max(0, self._open_rows - rows)

    def _poke(self, new_rows: int = 1) -> None:
        self._open_rows += new_rows
        self._pokes += 1
        self._idle = False
        self._resting.clear()
        self._wake.set()

    def _next_delay(self) -> float | None:
        if self._idle:
            return None
        wait = self.seconds_until_ready()
        return wait if wait > 0 else 0.0  # a full batch: go on at once

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


def _mark(event: TaskEvent) -> Mark:
    return (event.kind, event.to_stage)
