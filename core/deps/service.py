"""Task dependencies: B waits for A until A is done.

Dependencies are declared by key (any repository), locally through `/depend` or read
from a tracker's `blocked_by` relations. They act in three places:

- the claim: a job whose task has a dependency not yet done is skipped by the claim
  statement itself, so it never holds a concurrency slot (storage/queries/jobs.sql);
- `release_ready()`, called on every job-loop tick and wherever a blocker's completion
  is recorded (the tracker sync, with or without agents): when the last dependency of B is
  done, B gets exactly one DEPS_RELEASED event ("ORCH-40 done") through the pipeline
  service's `note`, so the notifier hears it like any other change;
- a declaration that closes a cycle blocks every task on it ("cycle ORCH-47 → ORCH-48
  → ORCH-47") and raises one alert per cycle, however often the edges are seen again.

`settings.task_deps_enabled = False` makes all of it inert: the claim ignores the table,
nothing is released or blocked, and declarations are refused.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from core.clock import Clock
from core.deps.graph import canonical, cycle_closed_by, graph_of
from core.errors import DomainError, StaleVersion, UnknownTask
from core.pipeline.service import PipelineService
from core.pipeline.stages import BLOCKED, QUEUED, Stage
from core.pipeline.tasks import ENGINE, ChangeKind, Task
from core.ports import DependencyStore
from core.sync.records import ItemBlocker

log = logging.getLogger(__name__)

LOCAL = "local"  # declared in the chat; a tracker's edges carry the tracker's name
SWITCHED_OFF = "Dependencies are switched off (ORCH_TASK_DEPS_ENABLED=false)."


@dataclass(frozen=True, slots=True)
class DepLink:
    """One end of a dependency as /deps shows it."""

    task_id: int
    key: str
    stage: Stage
    source: str


@dataclass(frozen=True, slots=True)
class DepsView:
    """/deps KEY: what the task waits for, and who waits for it."""

    task: Task
    depends_on: tuple[DepLink, ...]
    dependents: tuple[DepLink, ...]


@dataclass(frozen=True, slots=True)
class Satisfied:
    """Dependencies of one task that became done since the last look."""

    task_id: int
    done_keys: tuple[str, ...]
    all_met: bool


@dataclass(frozen=True, slots=True)
class DependencyCycle:
    keys: tuple[str, ...]  # in order, without the closing repeat

    @property
    def spelled(self) -> str:
        return " → ".join((*self.keys, self.keys[0]))


@dataclass(frozen=True, slots=True)
class Declared:
    task: Task
    depends_on: Task
    added: bool  # False: it was declared already
    cycle: DependencyCycle | None = None


@dataclass(frozen=True, slots=True)
class Ingested:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()  # keys with no task (yet): not a dependency
    cycle: DependencyCycle | None = None


CycleAlert = Callable[[DependencyCycle], Awaitable[None] | None]
WaitsChanged = Callable[[int], None]


class DependencyService:
    """Declares, removes, explains and releases dependencies; see the module docstring."""

    def __init__(
        self,
        store: DependencyStore,
        pipeline: PipelineService,
        clock: Clock,
        *,
        enabled: bool = True,
        on_cycle: CycleAlert | None = None,
        on_waits_changed: WaitsChanged | None = None,
    ) -> None:
        self._store = store
        self._pipeline = pipeline
        self._clock = clock
        self.enabled = enabled
        self._on_cycle = on_cycle
        self._on_waits_changed = on_waits_changed
        self._alerted: set[tuple[int, ...]] = set()
        self.cycles_alerted_total = 0

    async def declare(self, task_key: str, depends_on_key: str, *, source: str = LOCAL
                      ) -> Declared:
        """B depends on A, by key. UnknownTask for an unknown key; a cycle blocks."""
        self._require_enabled()
        task, dep = await self._pair(task_key, depends_on_key)
        added = await self._store.add(task.id, dep.id, source, self._clock.now())
        cycle = await self._check_cycles([(task.id, dep.id)])
        return Declared(task, dep, added, cycle)

    async def remove(self, task_key: str, depends_on_key: str) -> bool:
        """Drop the dependency; False if there was none."""
        self._require_enabled()
        task, dep = await self._pair(task_key, depends_on_key)
        removed = await self._store.remove(task.id, dep.id)
        if removed:
            self._waits_changed(task.id)
        return removed

    async def links(self, key: str) -> DepsView:
        """Both directions for /deps KEY (shown even when switched off)."""
        task = await self._pipeline.find(key)
        depends_on, dependents = await self._store.links(task.id)
        return DepsView(task, tuple(depends_on), tuple(dependents))

    async def ingest_relations(self, task: Task, blocked_by_keys: Iterable[str], *,
                               source: str, blocked_by_items: Iterable[ItemBlocker] = ()
                               ) -> Ingested:
        """Make the task's dependencies from `source` (a tracker's name) exactly
        `blocked_by_keys` (tasks) and `blocked_by_items` (tracker items without a task,
        waited for by their state group).

        Keys with no task are reported and skipped; local declarations are kept.
        """
        if not self.enabled:
            return Ingested()
        found, unknown = await self._resolve(blocked_by_keys, exclude=task.id)
        added, removed = await self._store.replace(task.id, source, found, self._clock.now())
        items = await self._store.replace_items(task.id, list(blocked_by_items),
                                                self._clock.now())
        cycle = await self._check_cycles([(task.id, dep) for dep in added])
        if added or removed or items[0] or items[1]:
            self._waits_changed(task.id)
        return Ingested(
            await self._keys(added), await self._keys(removed), tuple(unknown), cycle
        )

    async def open_item_blockers(self) -> set[str]:
        """Tracker items without a task that some task waits for (the sync watches them)."""
        return await self._store.open_item_blockers() if self.enabled else set()

    async def item_moved(self, item_id: str, group: str, released: bool) -> list[Task]:
        """A blocking item changed group, as the sync saw it: record it and announce the
        tasks it released, here and now (with or without a job loop)."""
        if not self.enabled:
            return []
        await self._store.item_moved(item_id, group, released, self._clock.now())
        return await self.release_ready()

    async def release_ready(self) -> list[Task]:
        """Announce every task whose last dependency just became done; once each."""
        if not self.enabled:
            return []
        announced = []
        for satisfied in await self._store.release_done(self._clock.now()):
            if not satisfied.all_met:
                self._waits_changed(satisfied.task_id)
                continue
            task = await self._announce(satisfied)
            if task is not None:
                announced.append(task)
        return announced

    async def is_ready(self, task_id: int) -> bool:
        """True when every dependency is done (always, when switched off)."""
        if not self.enabled:
            return True
        return not (await self._store.unmet([task_id])).get(task_id)

    async def waits(self, tasks: Sequence[Task]) -> Mapping[int, str]:
        """WaitExplainer: "waits for ORCH-3, ORCH-5" for tasks with unmet dependencies."""
        if not self.enabled:
            return {}
        ids = [t.id for t in tasks if t.stage in self._pipeline.stages.active]
        unmet = await self._store.unmet(ids) if ids else {}
        return {task_id: "waits for " + ", ".join(keys) for task_id, keys in unmet.items()}

    async def card_note(self, task: Task) -> str | None:
        """The line for the task's card (TelegramRenderer.add_card_note)."""
        return (await self.waits([task])).get(task.id)

    # --- internals -------------------------------------------------------------------

    def _require_enabled(self) -> None:
        if not self.enabled:
            raise DomainError(SWITCHED_OFF)

    async def _pair(self, task_key: str, depends_on_key: str) -> tuple[Task, Task]:
        task = await self._pipeline.find(task_key)
        dep = await self._pipeline.find(depends_on_key)
        if task.id == dep.id:
            raise DomainError(f"{task.key} cannot depend on itself.")
        return task, dep

    async def _resolve(self, keys: Iterable[str], *, exclude: int) -> tuple[list[int], list[str]]:
        found: list[int] = []
        unknown: list[str] = []
        for key in dict.fromkeys(k.strip().upper() for k in keys if k.strip()):
            try:
                task = await self._pipeline.find(key)
            except UnknownTask:
                unknown.append(key)
                continue
            if task.id != exclude:
                found.append(task.id)
        return found, unknown

    async def _keys(self, ids: Iterable[int]) -> tuple[str, ...]:
        return tuple([(await self._pipeline.get(i)).key for i in ids])

    async def _check_cycles(self, new_edges: Sequence[tuple[int, int]]) -> DependencyCycle | None:
        if not new_edges:
            return None
        graph = graph_of(await self._store.edges())
        first: DependencyCycle | None = None
        for task_id, dep_id in new_edges:
            ring = cycle_closed_by(graph, task_id, dep_id)
            if ring is not None:
                cycle = await self._on_cycle_found(ring)
                first = first or cycle
        return first

    async def _on_cycle_found(self, ring: list[int]) -> DependencyCycle:
        tasks = {i: await self._pipeline.get(i) for i in set(ring)}
        ids = canonical(ring, {i: t.key for i, t in tasks.items()})
        cycle = DependencyCycle(tuple(tasks[i].key for i in ids))
        if ids in self._alerted:
            return cycle
        self._alerted.add(ids)
        for task in tasks.values():
            await self._block_for(task, cycle)
        await self._alert(cycle)
        return cycle

    async def _block_for(self, task: Task, cycle: DependencyCycle) -> None:
        if task.stage not in self._pipeline.stages.active:
            return  # blocked already, done or cancelled
        try:
            await self._pipeline.block(
                task.id, ENGINE, f"cycle {cycle.spelled}", expected_version=task.version
            )
        except DomainError as exc:
            log.warning("could not block %s for %s: %s", task.key, cycle.spelled, exc)

    async def _alert(self, cycle: DependencyCycle) -> None:
        self.cycles_alerted_total += 1
        log.warning("dependency cycle %s", cycle.spelled)
        if self._on_cycle is None:
            return
        try:
            outcome = self._on_cycle(cycle)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            log.exception("the cycle alert failed for %s", cycle.spelled)

    async def _announce(self, satisfied: Satisfied) -> Task | None:
        """One DEPS_RELEASED event for a task that was waiting; retried if it moved."""
        reason = f"{', '.join(satisfied.done_keys)} done"
        for _ in range(3):
            task = await self._pipeline.get(satisfied.task_id)
            if not self._was_waiting(task):
                return None
            try:
                return await self._pipeline.note(task.id, ChangeKind.DEPS_RELEASED, ENGINE,
                                                 reason, expected_version=task.version)
            except StaleVersion:
                continue
        return None

    def _was_waiting(self, task: Task) -> bool:
        # Only a task that would have been claimed but for its dependencies was waiting:
        # one still queued waits for approval, a blocked one for a person.
        active = self._pipeline.stages.active
        return task.stage in active and task.stage not in (QUEUED, BLOCKED)

    def _waits_changed(self, task_id: int) -> None:
        if self._on_waits_changed is None:
            return
        try:
            self._on_waits_changed(task_id)
        except Exception:
            log.exception("waits-changed hook failed for task #%s", task_id)
