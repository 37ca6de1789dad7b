"""Write-back: the pipeline's moves of a tracker's tasks, mirrored onto their items.

A Notifier on the hub: `publish` only queues, so a move is never slowed or broken by
the tracker. `drain` does the writes in order: the item's state is set to the one the new
stage maps to, and a short comment says why. Both are safe to repeat: setting a state
twice changes nothing, and the comment carries an external id per (task, version), so
a retried write-back gets the tracker's 409 for its twin and posts nothing new.

The state orch sets is remembered on the item's record, so the next read recognises it
as orch's own write (no echo) rather than a person moving the item.
"""

from __future__ import annotations

import html
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.clock import Clock
from core.errors import TrackerError, TrackerRejected
from core.pipeline.stages import Stage
from core.pipeline.tasks import Actor, ChangeKind, Task, TaskEvent
from core.ports import SyncStore, TrackerWriter
from core.sync.records import ItemRecord
from core.sync.states_cache import StatesCache

log = logging.getLogger("orch.writeback")

MAX_QUEUE = 1000
MAX_ATTEMPTS = 200  # transient failures before giving up: hours of ticks, an outage passes


@dataclass(slots=True)
class _Job:
    task_id: int
    key: str
    item_id: str
    stage: Stage
    version: int
    kind: ChangeKind
    actor: str
    reason: str | None
    by_tracker: bool
    state_done: bool = False
    wrote_state: bool = False
    attempts: int = 0

    @property
    def external_id(self) -> str:
        return f"orch-{self.task_id}-v{self.version}"


@dataclass
class WriteBackStats:
    queued: int = 0
    states_set: int = 0
    comments: int = 0
    failures: int = 0  # transient: kept and retried
    dropped: int = 0  # given up: refused by the tracker, unknown item, queue full, too many tries
    last_error: str | None = None


class WriteBack:
    """Queues the pipeline's moves of the tracker's tasks (those whose source is the
    tracker's name) and writes them to the tracker on `drain`."""

    def __init__(
        self,
        tracker: TrackerWriter,
        states: StatesCache,
        store: SyncStore,
        clock: Clock,
        *,
        source: str,
        stage_states: Mapping[Stage, str],
        wake: Callable[[], None] = lambda: None,
        max_queue: int = MAX_QUEUE,
    ) -> None:
        self._tracker = tracker
        self._source = source
        self._tracker_actor = str(Actor(source))
        self._states = states
        self._store = store
        self._clock = clock
        self._stage_states = dict(stage_states)
        self._wake = wake
        self._max_queue = max_queue
        self._queue: deque[_Job] = deque()
        self.stats = WriteBackStats()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def publish(self, event: TaskEvent, task: Task) -> None:
        """Take note of a move of the tracker's task; never raises, never waits."""
        if task.source != self._source or not task.tracker_id or not event.stage_changed:
            return
        by_tracker = event.actor == self._tracker_actor
        if by_tracker and event.kind is not ChangeKind.APPROVED:
            return  # the tracker's own move (or the creation): the state a person chose stands
        if len(self._queue) >= self._max_queue:
            self._queue.popleft()
            self.stats.dropped += 1
            log.warning("write-back queue full; the oldest write-back is dropped")
        self._queue.append(_Job(task.id, task.key, task.tracker_id, event.to_stage,
                                event.version, event.kind, event.actor, event.reason,
                                by_tracker))
        self.stats.queued += 1
        self._wake()

    async def drain(self) -> int:
        """Write what is queued, in order; stop at the first transient failure (the next
        drain retries it). Returns how many write-backs were completed. Never raises."""
        done = 0
        while self._queue:
            job = self._queue[0]
            try:
                await self._write(job)
            except TrackerRejected as exc:  # 4xx: asking again gets the same answer
                self._drop(job, f"{job.key}: {exc}")
                continue
            except Exception as exc:
                if not self._retry_later(job, exc):
                    continue
                return done
            self._queue.popleft()
            done += 1
        return done

    async def _write(self, job: _Job) -> None:
        record = await self._store.record(job.item_id)
        if record is None:
            log.info("%s: no followed item %s; nothing to write back", job.key, job.item_id)
            return
        if not job.state_done:
            job.wrote_state = await self._set_state(job, record)
            job.state_done = True
        if job.wrote_state or not job.by_tracker:  # a start is told by its state alone
            await self._tracker.comment(record.project_id, job.item_id, _comment(job),
                                        job.external_id)
            self.stats.comments += 1

    async def _set_state(self, job: _Job, record: ItemRecord) -> bool:
        target = await self._target(record.project_id, job.stage)
        if target is None or target in (record.seen_state_id, record.written_state_id):
            return False  # already there (as far as orch knows), or no state to go to
        if self._superseded(job):
            return False  # a later move of the same item sets the state that counts
        await self._tracker.set_state(record.project_id, job.item_id, target)
        await self._store.note_written(job.item_id, target, self._clock.now())
        self.stats.states_set += 1
        return True

    async def _target(self, project_id: str, stage: Stage) -> str | None:
        logical = self._stage_states.get(stage)
        if logical is None:
            return None
        return (await self._states.get(project_id)).id_for(logical)

    def _superseded(self, job: _Job) -> bool:
        return any(other.item_id == job.item_id and other is not job for other in self._queue
                   if other.version > job.version)

    def _retry_later(self, job: _Job, exc: Exception) -> bool:
        """Count a transient failure; False when the job is given up instead."""
        job.attempts += 1
        self.stats.failures += 1
        self.stats.last_error = f"{job.key}: {exc}"
        if job.attempts >= MAX_ATTEMPTS:
            self._drop(job, f"{job.key}: gave up after {job.attempts} tries: {exc}")
            return False
        if isinstance(exc, TrackerError):
            log.warning("write-back of %s failed (%s); retrying later", job.key, exc)
        else:
            log.exception("write-back of %s failed; retrying later", job.key)
        return True

    def _drop(self, job: _Job, why: str) -> None:
        self._queue.remove(job)
        self.stats.dropped += 1
        self.stats.last_error = why
        log.warning("write-back dropped: %s", why)


def _comment(job: _Job) -> str:
    what = {
        ChangeKind.BLOCKED: "blocked",
        ChangeKind.FAILED: "failed",
        ChangeKind.UNBLOCKED: f"unblocked, back in {job.stage}",
        ChangeKind.DONE: "done",
        ChangeKind.CANCELLED: "cancelled",
        ChangeKind.ROLLED_BACK: f"sent back to {job.stage}",
    }.get(job.kind, f"moved to {job.stage}")
    because = f": {job.reason}" if job.reason else ""
    return f"<p>orch: {html.escape(job.key)} {html.escape(what + because)}</p>"
