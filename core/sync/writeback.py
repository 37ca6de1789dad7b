"""Write-back: the pipeline's moves of tracked tasks, mirrored onto their items.

A Notifier on the hub: `publish` only notes the move, so a move is never slowed or
broken by the tracker. `drain` stores the noted moves as rows (core.sync.outbox) and
works off the due rows in order, within the tracker's request budget.

People win over orch. Before setting a state, the item is read afresh: if its state is
neither the one orch last saw nor the one orch last wrote, a person moved it since, and
that move is handed back to the reconciler (Blocked blocks the task, a terminal group
stops it) while orch's write is dropped. So a write-back never overwrites a state that
orch has not seen.

Both writes are safe to repeat: setting a state twice changes nothing, and the comment
carries an external id per (task, version), so a retry gets the tracker's 409 twin.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from core.clock import Clock
from core.errors import TrackerRejected
from core.pipeline.stages import Stage
from core.pipeline.tasks import Actor, ChangeKind, Task, TaskEvent
from core.ports import SyncStore, Tracker, WriteBackStore
from core.sync.outbox import RowStatus, WriteBackDraft, WriteBackRow, retry_delay
from core.sync.records import ItemRecord
from core.sync.states_cache import StatesCache
from core.tracker import WorkItem

log = logging.getLogger("orch.writeback")

ROWS_PER_DRAIN = 200
PersonMoved = Callable[[WorkItem], Awaitable[None]]


@dataclass
class WriteBackStats:
    queued: int = 0
    states_set: int = 0
    comments: int = 0
    people_first: int = 0  # write-backs dropped because a person moved the item first
    repairs: int = 0  # rows added by a full resync's comparison
    failures: int = 0  # transient: kept and retried
    dropped: int = 0  # given up: refused by the tracker, unknown item, too many tries
    last_error: str | None = None


class WriteBack:
    """Notes the pipeline's moves of tracked tasks and writes them to the tracker."""

    def __init__(
        self,
        tracker: Tracker,
        states: StatesCache,
        store: SyncStore,
        outbox: WriteBackStore,
        clock: Clock,
        *,
        source: str,
        stage_states: Mapping[Stage, str],
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._tracker = tracker
        self._source = source
        self._tracker_actor = str(Actor(source))
        self._states = states
        self._store = store
        self._outbox = outbox
        self._clock = clock
        self._stage_states = dict(stage_states)
        self._wake = wake
        self._noted: list[WriteBackDraft] = []
        self._open = 0
        self._swept = False
        self.stats = WriteBackStats()

    @property
    def pending(self) -> int:
        """Moves noted or stored and not yet written (as of the last drain)."""
        return len(self._noted) + self._open

    def publish(self, event: TaskEvent, task: Task) -> None:
        """Take note of a move of a tracked task; never raises, never waits."""
        if task.source != self._source or not task.tracker_id or not event.stage_changed:
            return
        if event.actor == self._tracker_actor and event.kind is not ChangeKind.APPROVED:
            return  # the tracker's own move (or the creation): the state a person chose stands
        self._noted.append(WriteBackDraft(task.id, task.key, task.tracker_id, event.to_stage,
                                          event.version, str(event.kind), event.actor,
                                          event.reason))
        self.stats.queued += 1
        self._wake()

    async def target(self, project_id: str, stage: Stage) -> str | None:
        """The state a task in `stage` means its item to be in (None: no opinion)."""
        logical = self._stage_states.get(stage)
        if logical is None:
            return None
        return (await self._states.get(project_id)).id_for(logical)

    async def repair(self, record: ItemRecord, item: WorkItem, task: Task) -> bool:
        """Full-resync comparison: queue a write if the task moved past what the item
        shows and no write is on its way. True when a repair was queued."""
        if task.version <= (record.synced_version or 0):
            return False
        target = await self.target(record.project_id, task.stage)
        if target is None or target == item.state_id:
            await self._store.note_synced(item.id, task.version, self._clock.now())
            return False
        if await self._outbox.open_for_task(task.id):
            return False
        draft = WriteBackDraft(task.id, task.key, item.id, task.stage, task.version,
                               "repair", "system", None)
        added = await self._outbox.add([draft], self._clock.now())
        self.stats.repairs += added
        return bool(added)

    async def drain(self, person_moved: PersonMoved) -> int:
        """Store what was noted, then write the due rows in order; stop at the first
        transient failure (the tracker is likely down). Returns the rows completed."""
        await self._flush()
        done = 0
        for row in await self._outbox.due(self._clock.now(), ROWS_PER_DRAIN):
            if not await self._outbox.start(row.id, self._clock.now()):
                continue
            finished = await self._attempt(row, person_moved)
            if finished is None:
                break
            done += finished
        self._open = await self._outbox.open_count()
        return done

    async def _flush(self) -> None:
        if not self._swept:
            self._swept = True
            if swept := await self._outbox.sweep(self._clock.now()):
                log.warning("%d write-backs were cut short by a restart; retrying them", swept)
        if self._noted:
            noted, self._noted = self._noted, []
            await self._outbox.add(noted, self._clock.now())

    async def _attempt(self, row: WriteBackRow, person_moved: PersonMoved) -> int | None:
        """1 when the row is finished, 0 when given up, None when it is retried later."""
        now = self._clock.now()
        try:
            status, why = await self._write(row, person_moved)
        except TrackerRejected as exc:
            if exc.status in (401, 403, 404):  # lost access or a missing item: may pass
                return await self._later(row, exc)
            await self._give_up(row, f"{row.draft.key}: {exc}")
            return 0
        except Exception as exc:
            return await self._later(row, exc)
        await self._outbox.finish(row.id, status, why, now)
        return 1

    async def _write(self, row: WriteBackRow,
                     person_moved: PersonMoved) -> tuple[RowStatus, str | None]:
        draft = row.draft
        record = await self._store.record(draft.item_id)
        if record is None:
            return RowStatus.SKIPPED, "the item is not followed"
        if record.missing_since is not None:
            return RowStatus.SKIPPED, "the item is missing in the tracker"
        wrote = False
        if not row.state_done:
            outcome = await self._set_state(row, record, person_moved)
            if isinstance(outcome, str):
                return RowStatus.SKIPPED, outcome
            wrote = outcome
            await self._outbox.state_done(row.id, self._clock.now())
        # a start is told by its state alone, unless a try of it may have been cut short
        # (the comment's external id makes a second post a no-op)
        if wrote or row.state_done or row.attempts or draft.actor != self._tracker_actor:
            await self._tracker.comment(record.project_id, draft.item_id, _comment(draft),
                                        row.external_id)
            self.stats.comments += 1
        return RowStatus.SUCCEEDED, None

    async def _set_state(self, row: WriteBackRow, record: ItemRecord,
                         person_moved: PersonMoved) -> bool | str:
        """True when the state was written; a string says why the row is dropped."""
        draft = row.draft
        if await self._outbox.later_for_item(draft.item_id, row.id):
            return False  # a later move of the same item sets the state that counts
        target = await self.target(record.project_id, draft.stage)
        if target is None:
            return False
        item = await self._tracker.item(record.project_id, draft.item_id)
        if item.state_id not in (record.seen_state_id, record.written_state_id):
            self.stats.people_first += 1
            await person_moved(item)
            return f"a person moved {draft.key} first; their move stands"
        now = self._clock.now()
        if item.state_id == target:
            await self._store.note_synced(draft.item_id, draft.version, now)
            return False
        await self._tracker.set_state(record.project_id, draft.item_id, target)
        await self._store.note_written(draft.item_id, target, now, draft.version)
        self.stats.states_set += 1
        return True

    async def _later(self, row: WriteBackRow, exc: Exception) -> int | None:
        self.stats.failures += 1
        self.stats.last_error = f"{row.draft.key}: {exc}"
        delay = retry_delay(row.attempts + 1)
        if delay is None:
            await self._give_up(row, f"{row.draft.key}: gave up after {row.attempts + 1} "
                                     f"tries: {exc}")
            return 0
        log.warning("write-back of %s failed (%s); retrying later", row.draft.key, exc)
        now = self._clock.now()
        await self._outbox.retry(row.id, now + delay, str(exc)[:500], now)
        return None

    async def _give_up(self, row: WriteBackRow, why: str) -> None:
        self.stats.dropped += 1
        self.stats.last_error = why
        log.warning("write-back dropped: %s", why)
        await self._outbox.finish(row.id, RowStatus.FAILED, why[:500], self._clock.now())


def _comment(draft: WriteBackDraft) -> str:
    said: dict[str, str] = {  # ChangeKind is a StrEnum: the stored kind matches its key
        ChangeKind.BLOCKED: "blocked",
        ChangeKind.FAILED: "failed",
        ChangeKind.UNBLOCKED: f"unblocked, back in {draft.stage}",
        ChangeKind.DONE: "done",
        ChangeKind.CANCELLED: "cancelled",
        ChangeKind.ROLLED_BACK: f"sent back to {draft.stage}",
    }
    what = said.get(draft.kind, f"moved to {draft.stage}")
    because = f": {draft.reason}" if draft.reason else ""
    return f"<p>orch: {html.escape(draft.key)} {html.escape(what + because)}</p>"
