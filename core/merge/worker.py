"""The merge worker: when and for whom the gate runs, and what people see meanwhile.

It hears every task event (a Notifier): a task leaving `development` gets its branch
pushed and its PR opened; a task entering a stage that names the `merged` gate is due
for the gate. Webhook hints wake it; a poll every `interval_s` is the source of truth
(deliveries are not guaranteed). Repositories proceed in parallel, tasks of one
repository one after another (only one can hold its lease anyway). It also explains
waits — "waits for the api merge lease: ORCH-39, re-testing for 4 min, expires in
26 min" — for cards and /queue, and shows the leases as a /queue block.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime

from core.clock import Clock
from core.merge.gate import MergeGate, Outcome, Step
from core.pipeline.service import PipelineService
from core.pipeline.stages import BLOCKED, Pipeline, Stage
from core.pipeline.tasks import ChangeKind, Task, TaskEvent
from core.ports import MergeLease, MergeLeaseStore, MergeRecords
from core.queue_view import QueueBlock

log = logging.getLogger(__name__)

DEVELOPMENT = "development"
MERGE_GATE = "merged"
TaskHook = Callable[[Task, str], Awaitable[object]]


class MergeWorker:
    """Drives MergeGate for the tasks that need it; see the module docstring."""

    def __init__(self, gate: MergeGate, pipeline: PipelineService, leases: MergeLeaseStore,
                 records: MergeRecords, clock: Clock, *,
                 on_merged: Callable[[int], None] | None = None,
                 on_waits_changed: Callable[[int], None] | None = None,
                 on_deploy_failed: TaskHook | None = None) -> None:
        self.gate = gate
        self._pipeline = pipeline
        self._flow: Pipeline = pipeline.stages
        self._leases = leases
        self._records = records
        self._clock = clock
        self.on_merged = on_merged
        self.on_waits_changed = on_waits_changed
        self._on_deploy_failed = on_deploy_failed
        self._to_publish: dict[int, None] = {}
        self._changed: dict[int, None] = {}
        self._lessons: list[tuple[int, str]] = []
        self.outcomes: dict[int, Outcome] = {}
        self.wake: Callable[[], None] = _nothing  # the runtime's pacer: tick again soon
        self.errors = 0

    def gated(self, stage: Stage) -> bool:
        return stage in self._flow.order and MERGE_GATE in self._flow.spec(stage).gates

    # --- hearing about changes -----------------------------------------------------------

    def publish(self, event: TaskEvent, task: Task) -> None:
        """Notifier port: note what the next tick has to do; never raises."""
        if (event.from_stage == DEVELOPMENT and event.to_stage not in (DEVELOPMENT, BLOCKED)
                and self.gate.handles(task.repo)):
            self._to_publish[task.id] = None
        if event.from_stage == "deploy" and event.kind in (ChangeKind.FAILED,
                                                           ChangeKind.ROLLED_BACK):
            self._lessons.append((task.id, event.reason or "the deploy failed"))
        if self.gated(event.to_stage) or event.from_stage == DEVELOPMENT:
            self.wake()

    def hint(self) -> None:
        """A webhook said something moved on the forge: look now rather than later."""
        self.wake()

    # --- the loop ------------------------------------------------------------------------

    async def tick(self) -> dict[int, Outcome]:
        """Publish what left development, then run the gate once for every due task."""
        await self._publish_due()
        await self._record_lessons()
        for lease in await self._leases.sweep(self._clock.now()):  # a dead holder's
            log.warning("merge lease of %s on %s expired; released", lease.task_key, lease.repo)
        tasks = [t for t in await self._pipeline.open_tasks()
                 if self.gated(t.stage) and self.gate.handles(t.repo)]
        by_repo: dict[str, list[Task]] = defaultdict(list)
        for task in sorted(tasks, key=lambda t: (t.stage_entered_at, t.id)):
            by_repo[task.repo].append(task)
        results = await asyncio.gather(*(self._repo(ts) for ts in by_repo.values()))
        done = {task_id: outcome for found in results for task_id, outcome in found.items()}
        for task_id in self._changed:
            if self.on_waits_changed is not None:
                self.on_waits_changed(task_id)  # after the tick: no lease is half-way
        self._changed.clear()
        return done

    async def _repo(self, tasks: Iterable[Task]) -> dict[int, Outcome]:
        found: dict[int, Outcome] = {}
        for task in tasks:
            try:
                outcome = await self.gate.run(task)
            except Exception:  # one task's trouble must not stop the others
                self.errors += 1
                log.exception("merge gate failed on %s", task.key)
                continue
            found[task.id] = outcome
            self._note(task, outcome)
        return found

    def _note(self, task: Task, outcome: Outcome) -> None:
        before = self.outcomes.get(task.id)
        self.outcomes[task.id] = outcome
        if outcome.step is Step.MERGED and self.on_merged is not None:
            self.on_merged(task.id)
        if before is None or before.step != outcome.step:
            self._changed[task.id] = None

    async def _publish_due(self) -> None:
        while self._to_publish:
            task_id = next(iter(self._to_publish))
            del self._to_publish[task_id]
            task = await self._pipeline.lookup(task_id)
            if task is None:
                continue
            try:
                record = await self.gate.publish(task)
            except Exception:
                self.errors += 1
                log.exception("could not push %s or open its PR", task.key)
                continue
            if record.pr_url:
                self._changed[task.id] = None  # the card links the PR (after the tick)

    async def _record_lessons(self) -> None:
        hook, pending, self._lessons = self._on_deploy_failed, self._lessons, []
        for task_id, reason in pending:
            task = await self._pipeline.lookup(task_id)
            if hook is not None and task is not None:
                try:
                    await hook(task, reason)
                except Exception:
                    log.warning("deploy_degraded lesson for %s failed", task.key,
                                exc_info=True)

    # --- what people see -----------------------------------------------------------------

    async def waits(self, tasks: Sequence[Task]) -> Mapping[int, str]:
        """WaitExplainer: tasks in a gated stage whose repo's lease another task holds."""
        now = self._clock.now()
        leases = {lease.repo: lease for lease in await self._leases.held(now)}
        found: dict[int, str] = {}
        for task in tasks:
            lease = leases.get(task.repo)
            if self.gated(task.stage) and lease is not None and lease.task_id != task.id:
                found[task.id] = f"waits for the {task.repo} merge lease: " + \
                    describe_lease(lease, now)
        return found

    async def card_note(self, task: Task) -> str | None:
        """The card's line: the PR the task lives in (its wait comes with /queue's why)."""
        record = await self._records.get(task.id)
        if record is None or record.pr_number is None:
            return None
        state = {"merged": "merged", "held": "held"}.get(record.state.value, "open")
        return f"PR #{record.pr_number} ({state}) {record.pr_url or ''}".strip()

    async def queue_block(self) -> QueueBlock | None:
        now = self._clock.now()
        leases = await self._leases.held(now)
        if not leases:
            return None
        lines = tuple(f"{lease.repo}: {describe_lease(lease, now)}" for lease in leases)
        return QueueBlock("merge lease", lines)


def describe_lease(lease: MergeLease, now: datetime) -> str:
    doing = _minutes((now - lease.phase_since).total_seconds())
    left = _minutes((lease.expires_at - now).total_seconds())
    return f"{lease.task_key}, {lease.phase} for {doing}, expires in {left}"


def _minutes(seconds: float) -> str:
    minutes = max(0, round(seconds / 60))
    return f"{minutes} min"


def _nothing() -> None:
    """No one to tell (tests tick the worker themselves)."""
