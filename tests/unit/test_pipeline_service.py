"""PipelineService over the in-memory store and a manual clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import pytest

from core.clock import ManualClock
from core.errors import DuplicateTask, IllegalTransition, StaleVersion, UnknownTask
from core.pipeline.service import PipelineService
from core.pipeline.stages import BLOCKED, CANCELLED, DEFAULT_PIPELINE, DONE, QUEUED, Stage
from core.pipeline.tasks import ENGINE, SYSTEM, Actor, ChangeKind, Task
from core.ports import Applied, EventDraft, TaskChange
from tests.fakes import InMemoryTaskStore, RecordingNotifier

ALICE = Actor("telegram", "42", "Alice")


class InterleavingStore(InMemoryTaskStore):
    """Lets another writer in between the service's read and its compare-and-set."""

    before_write: Callable[[], Awaitable[Applied | None]] | None = None

    async def compare_and_set(
        self,
        task_id: int,
        expected_version: int,
        change: TaskChange,
        event: EventDraft,
        at: datetime,
    ) -> Applied | None:
        if self.before_write is not None:
            other, self.before_write = self.before_write, None
            await other()
        return await super().compare_and_set(task_id, expected_version, change, event, at)


async def task_in(service: PipelineService, stage: Stage) -> Task:
    """A new task moved forward (or blocked) until it is in `stage`."""
    task = await service.create("app", "Fix it", SYSTEM)
    if stage == BLOCKED:
        return await service.block(task.id, SYSTEM, "waiting")
    while task.stage != stage:
        task = await service.advance(task.id, SYSTEM)
    return task


async def event_count(service: PipelineService, task: Task) -> int:
    return len(await service.history(task.id))


# --- create -------------------------------------------------------------------------


async def test_create_allocates_orch_keys_in_order(service: PipelineService) -> None:
    first = await service.create("app", "One", ALICE)
    second = await service.create("app", "Two", ALICE)

    assert (first.key, second.key) == ("ORCH-1", "ORCH-2")
    assert (first.stage, first.version) == (QUEUED, 1)


async def test_create_uses_the_configured_key_prefix(clock: ManualClock) -> None:
    service = PipelineService(
        InMemoryTaskStore(), DEFAULT_PIPELINE, clock, RecordingNotifier(), key_prefix="WEB"
    )

    assert (await service.create("app", "One", ALICE)).key == "WEB-1"


async def test_create_publishes_created(
    service: PipelineService, notifier: RecordingNotifier
) -> None:
    task = await service.create("app", "One", ALICE)

    [(event, published)] = notifier.published
    assert (event.kind, event.actor, published) == (ChangeKind.CREATED, "telegram:42", task)


async def test_create_of_a_known_tracker_item_is_refused(
    service: PipelineService, notifier: RecordingNotifier
) -> None:
    await service.create("app", "One", SYSTEM, tracker_id="u-1")

    with pytest.raises(DuplicateTask):
        await service.create("app", "Again", SYSTEM, tracker_id="u-1")
    assert len(notifier.published) == 1


async def test_an_unknown_task_is_reported(service: PipelineService) -> None:
    with pytest.raises(UnknownTask):
        await service.approve(99, ALICE)
    with pytest.raises(UnknownTask, match="ORCH-9"):
        await service.find("orch-9")


# --- approve and advance ------------------------------------------------------------


async def test_approve_moves_a_queued_task_into_development(
    service: PipelineService, notifier: RecordingNotifier
) -> None:
    task = await service.create("app", "One", SYSTEM)

    approved = await service.approve(task.id, ALICE)

    assert (approved.stage, approved.version) == ("development", 2)
    event, _ = notifier.published[-1]
    assert (event.kind, event.from_stage, event.actor) == (
        ChangeKind.APPROVED,
        QUEUED,
        "telegram:42",
    )


async def test_approve_in_development_is_refused_and_changes_nothing(
    service: PipelineService, notifier: RecordingNotifier
) -> None:
    task = await task_in(service, "development")
    published = len(notifier.published)

    with pytest.raises(IllegalTransition):
        await service.approve(task.id, ALICE)

    assert await service.get(task.id) == task
    assert await event_count(service, task) == task.version
    assert len(notifier.published) == published


async def test_advancing_into_merge_asks_for_approval(service: PipelineService) -> None:
    task = await task_in(service, "testing")

    await service.advance(task.id, SYSTEM)

    [*_, event] = await service.history(task.id)
    assert (event.to_stage, event.kind) == ("merge", ChangeKind.NEEDS_APPROVAL)


async def test_approval_in_a_gated_stage_is_recorded_in_place(
    service: PipelineService, notifier: RecordingNotifier
) -> None:
    task = await task_in(service, "merge")

    approved = await service.approve(task.id, ALICE)

    [*_, event] = await service.history(task.id)
    assert approved.stage == "merge" and approved.version == task.version + 1
    assert (event.from_stage, event.to_stage, event.kind) == ("merge", "merge",
                                                              ChangeKind.APPROVED)
    assert notifier.published[-1][0] == event


# --- note: an event that keeps the stage ---------------------------------------------


async def test_a_note_keeps_the_stage_and_is_heard(
    service: PipelineService, notifier: RecordingNotifier
) -> None:
    task = await task_in(service, "development")

    noted = await service.note(task.id, ChangeKind.DEPS_RELEASED, ENGINE, "ORCH-9 done",
                               expected_version=task.version)

    [*_, event] = await service.history(task.id)
    assert (noted.stage, noted.version, noted.blocked_from) == ("development", task.version + 1,
                                                                None)
    assert (event.from_stage, event.to_stage, event.kind, event.reason) == (
        "development", "development", ChangeKind.DEPS_RELEASED, "ORCH-9 done")
    assert notifier.published[-1] == (event, noted)


async def test_a_note_on_a_stale_version_changes_nothing(service: PipelineService) -> None:
    task = await task_in(service, "development")

    with pytest.raises(StaleVersion):
        await service.note(task.id, ChangeKind.NOTE, ENGINE, "x", expected_version=1)
    assert await event_count(service, task) == task.version


@pytest.mark.parametrize("kind", [ChangeKind.DONE, ChangeKind.BLOCKED, ChangeKind.CANCELLED,
                                  ChangeKind.ADVANCED, ChangeKind.CREATED])
async def test_a_note_cannot_claim_a_move(service: PipelineService, kind: ChangeKind) -> None:
    task = await task_in(service, "development")

    with pytest.raises(IllegalTransition):
        await service.note(task.id, kind, ENGINE, "pretend")
    assert await service.get(task.id) == task


async def test_lookup_and_tracker_item_reads(service: PipelineService) -> None:
    task = await service.create("app", "From the tracker", SYSTEM, tracker_id="item-1")

    assert await service.lookup(task.id) == task
    assert await service.lookup(task.id + 1) is None
    assert await service.find_by_tracker_item("item-1") == task
    assert await service.find_by_tracker_item("item-2") is None


async def test_leaving_deploy_is_done(service: PipelineService) -> None:
    task = await task_in(service, "deploy")

    moved = await service.advance(task.id, ALICE)

    [*_, event] = await service.history(task.id)
    assert (moved.stage, event.kind) == (DONE, ChangeKind.DONE)


async def test_entering_a_stage_records_the_clock(
    service: PipelineService, clock: ManualClock
) -> None:
    task = await service.create("app", "One", SYSTEM)
    clock.advance(90)

    approved = await service.approve(task.id, ALICE)

    assert approved.stage_entered_at == approved.updated_at == clock.now()
    assert approved.created_at == task.created_at


# --- rollback, block, cancel, close -------------------------------------------------


async def test_rollback_from_testing_returns_to_development_with_the_reason(
    service: PipelineService,
) -> None:
    task = await task_in(service, "testing")

    rolled = await service.rollback(task.id, SYSTEM, "3 tests failed")

    [*_, event] = await service.history(task.id)
    assert (rolled.stage, rolled.reason) == ("development", "3 tests failed")
    assert (event.kind, event.reason) == (ChangeKind.ROLLED_BACK, "3 tests failed")


async def test_rollback_without_a_target_is_refused(service: PipelineService) -> None:
    task = await task_in(service, "development")

    with pytest.raises(IllegalTransition):
        await service.rollback(task.id, SYSTEM, "why")


async def test_block_remembers_the_stage_and_unblock_returns_there(
    service: PipelineService,
) -> None:
    task = await task_in(service, "review")

    blocked = await service.block(task.id, ALICE, "waiting for access")
    unblocked = await service.unblock(task.id, ALICE)

    kinds = [e.kind for e in await service.history(task.id)][-2:]
    assert (blocked.stage, blocked.blocked_from, blocked.reason) == (
        BLOCKED,
        "review",
        "waiting for access",
    )
    assert (unblocked.stage, unblocked.blocked_from) == ("review", None)
    assert kinds == [ChangeKind.BLOCKED, ChangeKind.UNBLOCKED]


async def test_a_failure_blocks_with_kind_failed(service: PipelineService) -> None:
    task = await task_in(service, "development")

    await service.block(task.id, ENGINE, "agent crashed", failed=True)

    [*_, event] = await service.history(task.id)
    assert (event.kind, event.to_stage) == (ChangeKind.FAILED, BLOCKED)


@pytest.mark.parametrize("stage", [*DEFAULT_PIPELINE.active, BLOCKED])
async def test_close_from_any_live_stage_is_done(service: PipelineService, stage: Stage) -> None:
    task = await task_in(service, stage)

    closed = await service.close(task.id, SYSTEM, "closed in Plane")

    [*_, event] = await service.history(task.id)
    assert (closed.stage, closed.blocked_from) == (DONE, None)
    assert (event.kind, event.from_stage) == (ChangeKind.DONE, stage)


MOVES: dict[str, Callable[[PipelineService, int], Awaitable[Task]]] = {
    "approve": lambda s, i: s.approve(i, ALICE),
    "advance": lambda s, i: s.advance(i, ALICE),
    "rollback": lambda s, i: s.rollback(i, ALICE, "r"),
    "block": lambda s, i: s.block(i, ALICE, "r"),
    "unblock": lambda s, i: s.unblock(i, ALICE),
    "cancel": lambda s, i: s.cancel(i, ALICE, "r"),
    "close": lambda s, i: s.close(i, ALICE, "r"),
}


@pytest.mark.parametrize("move", MOVES)
@pytest.mark.parametrize("end", ["cancel", "close"])
async def test_cancelled_and_done_are_terminal(
    service: PipelineService, notifier: RecordingNotifier, end: str, move: str
) -> None:
    task = await task_in(service, "review")
    ended = await MOVES[end](service, task.id)
    published = len(notifier.published)

    with pytest.raises(IllegalTransition):
        await MOVES[move](service, task.id)

    assert ended.stage in (CANCELLED, DONE)
    assert await service.get(task.id) == ended
    assert len(notifier.published) == published


# --- versions, events, notifications ------------------------------------------------


async def test_a_stale_expected_version_is_refused_and_changes_nothing(
    service: PipelineService, notifier: RecordingNotifier
) -> None:
    task = await task_in(service, "development")
    published = len(notifier.published)

    with pytest.raises(StaleVersion):
        await service.block(task.id, ALICE, "r", expected_version=task.version - 1)

    assert await service.get(task.id) == task
    assert len(notifier.published) == published


async def test_a_write_lost_to_another_writer_raises_stale_version(clock: ManualClock) -> None:
    store = InterleavingStore()
    notifier = RecordingNotifier()
    service = PipelineService(store, DEFAULT_PIPELINE, clock, notifier)
    task = await service.create("app", "One", SYSTEM)
    cancel = TaskChange(CANCELLED, None, "other")
    store.before_write = lambda: store.compare_and_set(
        task.id, 1, cancel, EventDraft("plane", ChangeKind.CANCELLED), clock.now()
    )

    with pytest.raises(StaleVersion):
        await service.approve(task.id, ALICE, expected_version=1)

    assert (await service.get(task.id)).stage == CANCELLED
    assert notifier.kinds == [ChangeKind.CREATED]


async def test_every_change_bumps_the_version_once_with_one_event_and_one_message(
    service: PipelineService, notifier: RecordingNotifier
) -> None:
    task = await service.create("app", "One", SYSTEM)
    steps = ["approve", "advance", "advance", "rollback", "block", "unblock", "cancel"]

    for version, step in enumerate(steps, start=2):
        task = await MOVES[step](service, task.id)
        history = await service.history(task.id)
        assert (task.version, len(history), len(notifier.published)) == (version,) * 3
        assert notifier.published[-1] == (history[-1], task)
        assert history[-1].version == version


async def test_a_failing_notifier_never_breaks_a_move(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = RecordingNotifier(fail_with=RuntimeError("chat is down"))
    service = PipelineService(InMemoryTaskStore(), DEFAULT_PIPELINE, clock, notifier)
    task = await service.create("app", "One", SYSTEM)

    approved = await service.approve(task.id, ALICE)

    assert (await service.get(task.id)) == approved
    assert approved.stage == "development"
    assert len(notifier.published) == 2
    assert "notifier failed on ORCH-1" in caplog.text
