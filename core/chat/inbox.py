"""The inbox: every update is kept in SQLite before Telegram is told it arrived.

Polling (and later a webhook) hands raw updates to `receive`, which stores them (unique
on update_id) and only then lets the caller confirm the offset. Each stored update is
handled from there, in its own task: many may be in flight at once, but updates that
share a lane (the same task) run one after another in update order. An update is marked
handled in the same transaction as the first change its handler writes (or at the end,
if it writes nothing); after a crash the ones left unhandled are handled, in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from core.clock import Clock
from core.ports.chat import InboxStore

log = logging.getLogger(__name__)

Payload = dict[str, Any]
Handler = Callable[[Payload], Awaitable[None]]
Lanes = Callable[[Payload], Awaitable[frozenset[str]]]


class Inbox:
    """Stores updates, then handles each once, lanes keeping per-task order."""

    def __init__(self, store: InboxStore, handler: Handler, lanes: Lanes, clock: Clock) -> None:
        self._store = store
        self._handler = handler
        self._lanes = lanes
        self._clock = clock
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._running: dict[int, asyncio.Task[None]] = {}
        self._order = asyncio.Lock()
        self.handled = 0
        self.failed = 0

    async def receive(self, updates: Sequence[Payload]) -> None:
        """Keep the updates in SQLite, then start handling the new ones."""
        if not updates:
            return
        new = set(await self._store.put(updates, self._clock.now()))
        for update in sorted(updates, key=lambda u: int(u["update_id"])):
            if int(update["update_id"]) in new:
                new.discard(int(update["update_id"]))
                await self._start(update)

    async def resume(self) -> None:
        """After a (re)start: handle what was stored but not handled, in order."""
        for update_id, payload in await self._store.pending(10_000):
            if update_id not in self._running:
                await self._start(payload)

    async def next_offset(self) -> int:
        return await self._store.next_offset()

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def drain(self) -> None:
        """Until every update started so far is handled (tests and shutdown)."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _start(self, update: Payload) -> None:
        async with self._order:  # lanes are chained in update order
            update_id = int(update["update_id"])
            try:
                lanes = await self._lanes(update)
            except Exception:
                log.exception("could not tell which task update %s is about", update_id)
                lanes = frozenset()
            before = [self._tails[lane] for lane in lanes if lane in self._tails]
            task = asyncio.get_running_loop().create_task(
                self._handle(update_id, update, before), name=f"update-{update_id}")
            self._running[update_id] = task
            for lane in lanes:
                self._tails[lane] = task
            task.add_done_callback(lambda t: self._forget(update_id, lanes, t))

    def _forget(self, update_id: int, lanes: frozenset[str], task: asyncio.Task[None]) -> None:
        self._running.pop(update_id, None)
        for lane in lanes:
            if self._tails.get(lane) is task:
                del self._tails[lane]

    async def _handle(self, update_id: int, update: Payload,
                      before: list[asyncio.Task[None]]) -> None:
        if before:
            await asyncio.wait(before)
        try:
            with self._store.handling(update_id, self._clock.now()):
                await self._handler(update)
        except asyncio.CancelledError:
            raise  # shutting down: handled again after the restart
        except Exception:
            self.failed += 1
            log.exception("update %s could not be handled; it is not retried", update_id)
        try:
            await self._store.mark_handled(update_id, self._clock.now())
            self.handled += 1
        except Exception:
            log.exception("could not mark update %s handled", update_id)
