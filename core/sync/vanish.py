"""Disappearance is confirmed, never assumed.

A tracker item that seems gone may be deleted, or orch may have lost sight of it: a
key that lost access sees 401/403 or an empty project list, a listing can come back
empty or shifted, a single read can 404 for a moment. Cancelling a task is terminal, so
it happens only when the item is absent from a complete, non-empty listing of a project
that is still visible AND answers 404 on a direct read, on two full resyncs at least
`confirm_after_s` apart. Until then the task is marked "missing in the tracker" (card and
/queue) and nothing else changes.

When more than `mass_share` of a project's followed items (and at least `mass_min`)
disappear in one resync, that is not a clean-up but a fault: the project's sync pauses,
one alert with a Confirm button goes out, and nothing is cancelled until a person
confirms; the confirmation cancels the tasks of the items that are still missing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core.clock import Clock
from core.sync.records import ItemRecord

if TYPE_CHECKING:
    from core.ports import PauseStore, SyncStore

log = logging.getLogger("orch.reconciler")


@dataclass(frozen=True, slots=True)
class Pause:
    """A project whose sync waits for a person: too many of its items vanished at once."""

    id: int
    project_id: str
    identifier: str
    missing: int
    followed: int
    created_at: datetime
    confirmed_at: datetime | None = None


@dataclass(frozen=True)
class VanishPolicy:
    confirm_after_s: float = 1800.0
    mass_share: float = 0.5
    mass_min: int = 3


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one full resync concluded about the items it could not find."""

    marked: tuple[str, ...] = ()  # keys newly or still marked missing
    confirmed: tuple[ItemRecord, ...] = ()  # gone for good: their tasks may be cancelled
    paused: Pause | None = None


class Vanishing:
    """Marks, confirms and pauses; never cancels by itself (the caller does)."""

    def __init__(self, store: SyncStore, pauses: PauseStore, clock: Clock,
                 policy: VanishPolicy, *, on_marked: Callable[[str], Awaitable[None]] | None = None,
                 on_paused: Callable[[Pause], Awaitable[None]] | None = None) -> None:
        self._store = store
        self._pauses = pauses
        self._clock = clock
        self.policy = policy
        self._on_marked = on_marked
        self._on_paused = on_paused

    async def suspect(self, record: ItemRecord) -> bool:
        """One observation outside a full resync (a 404 on a read): mark only."""
        if record.missing_since is not None:
            return False
        now = self._clock.now()
        await self._store.mark_missing(record.item_id, now, None, now)
        await self._marked(record.item_id)
        log.warning("%s looks gone from the tracker (404); marked missing", record.key)
        return True

    async def present(self, record: ItemRecord | None) -> None:
        """The item was seen: any missing mark goes."""
        if record is not None and record.missing_since is not None:
            if await self._store.clear_missing(record.item_id, self._clock.now()):
                await self._marked(record.item_id)

    async def judge(self, project_id: str, identifier: str, gone: Sequence[ItemRecord],
                    followed: int) -> Verdict:
        """Items absent from a complete non-empty listing and 404 on a direct read."""
        if not gone:
            return Verdict()
        now = self._clock.now()
        if len(gone) >= self.policy.mass_min and len(gone) > self.policy.mass_share * followed:
            return await self._mass(project_id, identifier, gone, followed)
        marked: list[str] = []
        confirmed: list[ItemRecord] = []
        wait = timedelta(seconds=self.policy.confirm_after_s)
        for record in gone:
            checked = record.missing_checked_at
            if checked is not None and now - checked >= wait:
                confirmed.append(record)
                continue
            await self._store.mark_missing(record.item_id, now, checked or now, now)
            if record.missing_since is None:
                await self._marked(record.item_id)
            marked.append(record.key)
        return Verdict(tuple(marked), tuple(confirmed))

    async def _mass(self, project_id: str, identifier: str, gone: Sequence[ItemRecord],
                    followed: int) -> Verdict:
        now = self._clock.now()
        for record in gone:
            if record.missing_since is None:
                await self._store.mark_missing(record.item_id, now, None, now)
                await self._marked(record.item_id)
        pause = await self._pauses.pause(project_id, identifier, len(gone), followed, now)
        if pause is not None:
            log.error("%d of %d followed items of %s vanished at once; its sync is paused",
                      len(gone), followed, identifier)
            if self._on_paused is not None:
                await self._on_paused(pause)
        return Verdict(tuple(r.key for r in gone), (), pause)

    async def _marked(self, item_id: str) -> None:
        if self._on_marked is not None:
            await self._on_marked(item_id)
