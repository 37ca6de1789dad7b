"""The reconcile tick against a fake tracker: the start case, moves from Plane, write-back,
deletions, incremental reads, relations and failure isolation."""

from __future__ import annotations

import asyncio

from core.pacer import Pacer
from core.pipeline.tasks import Actor
from core.sync.config import SyncConfig
from core.sync.report import Change
from tests.fakes import ManualScheduler
from tests.reconcile_world import World

LEAD = Actor("telegram", "7", "Lead")


async def started(world: World, name: str = "Add retry", description: str = "") -> str:
    """An approved item that the reconciler has turned into a running task."""
    item = world.tracker.add(name, "Approved", description)
    await world.tick()
    return item.key


async def test_an_approved_item_becomes_one_started_task() -> None:
    world = World()
    # The adapter hands plain text (Plane's HTML: tests/integration/test_reconciler_plane.py)
    item = world.tracker.add("Add retry", "Approved", "Retry webhooks & log")
    world.tracker.add("Later", "Backlog")

    report = await world.tick()

    task = await world.task("PROJ-1")
    assert (task.repo, task.title, task.stage) == ("proj", "Add retry", "development")
    assert (task.source, task.tracker_id) == ("plane", item.id)
    assert task.description == "Retry webhooks & log"
    assert report.changes == (Change("PROJ-1", "created"),)
    assert world.events() == ["PROJ-1 created", "PROJ-1 approved"]
    assert world.pushes() == []  # the new card is the news
    assert await world.tasks.find(key="PROJ-2") is None


async def test_start_can_leave_the_task_waiting_for_approval_in_the_chat() -> None:
    world = World(config=SyncConfig(start_approved=False, repos={"PROJ": "api"}))
    await started(world)
    task = await world.task("PROJ-1")
    assert (task.stage, task.repo) == ("queued", "api")


async def test_block_unblock_and_done_from_plane_each_push_once() -> None:
    world = World()
    key = await started(world)

    world.tracker.move(key, "Blocked")
    report = await world.tick(3)
    assert (await world.task(key)).stage == "blocked"
    world.tracker.move(key, "In Progress")
    await world.tick(3)
    assert (await world.task(key)).stage == "development"
    world.tracker.move(key, "Done")
    await world.tick(3)

    assert (await world.task(key)).stage == "done"
    assert world.pushes() == [f"{key} blocked", f"{key} unblocked", f"{key} done"]
    assert report.changes == ()  # the last of three ticks: nothing new
    unblocked = next(e for e, _ in world.notifier.published if e.kind == "unblocked")
    assert unblocked.reason == "moved to In Progress in Plane by Alice"


async def test_plane_moves_are_not_written_back_to_plane() -> None:
    world = World()
    key = await started(world)
    writes, comments = len(world.tracker.writes), len(world.tracker.comments)
    world.tracker.move(key, "Blocked")
    await world.tick(2)
    assert (len(world.tracker.writes), len(world.tracker.comments)) == (writes, comments)


async def test_cancelled_in_plane_cancels_the_task_with_the_reason() -> None:
    world = World()
    key = await started(world)
    world.tracker.move(key, "Cancelled")
    await world.tick()
    task = await world.task(key)
    assert (task.stage, task.reason) == ("cancelled", "moved to Cancelled in Plane by Alice")
    assert world.pushes() == [f"{key} cancelled"]


async def test_moves_between_open_states_change_nothing() -> None:
    world = World()
    key = await started(world)
    for state in ("In Review", "Todo", "Backlog", "Doing"):
        world.tracker.move(key, state)
        await world.tick()
    assert (await world.task(key)).stage == "development"
    assert world.pushes() == []


async def test_writeback_sets_the_mapped_state_and_comments_once() -> None:
    world = World()
    key = await started(world)
    item_id = world.tracker.item_by_key(key).id
    assert world.tracker.writes == [(item_id, "s-in-progress")]  # the start is written back
    task = await world.task(key)

    await world.pipeline.advance(task.id, LEAD)  # development → review
    await world.tick()

    assert world.tracker.writes[-1] == (item_id, "s-in-review")
    assert set(world.tracker.comments) == {"orch-1-v2", "orch-1-v3"}
    assert "moved to review" in world.tracker.comments["orch-1-v3"][1]


async def test_own_writes_do_not_come_back_as_tracker_changes() -> None:
    world = World()
    key = await started(world)
    task = await world.task(key)
    await world.pipeline.advance(task.id, LEAD)
    await world.tick()
    before = world.events()

    reports = [await world.tick() for _ in range(5)]

    assert world.events() == before
    assert all(r.changes == () for r in reports)
    record = await world.store.record(world.tracker.item_by_key(key).id)
    assert record is not None and record.written_state_id is None  # the echo was consumed


async def test_a_person_moving_to_the_state_orch_wrote_earlier_is_a_real_change() -> None:
    world = World()
    key = await started(world)  # orch wrote In Progress, and saw it come back
    world.tracker.move(key, "Blocked")
    await world.tick()
    world.tracker.move(key, "In Progress")  # the very state orch wrote before
    await world.tick()
    assert world.pushes() == [f"{key} blocked", f"{key} unblocked"]


async def test_a_retried_writeback_never_posts_a_second_comment() -> None:
    world = World()
    key = await started(world)
    task = await world.task(key)
    world.tracker.fail_comments = 1
    await world.pipeline.block(task.id, LEAD, "agent timed out")

    first = await world.tick()
    assert world.current.writeback.pending == 1 and first.writebacks == 0
    await world.tick()

    assert world.current.writeback.pending == 0
    assert world.tracker.writes[-1] == (world.tracker.item_by_key(key).id, "s-blocked")
    assert [w for w in world.tracker.writes if w[1] == "s-blocked"] == [world.tracker.writes[-1]]
    assert list(world.tracker.comments).count("orch-1-v3") == 1


async def test_an_item_deleted_in_plane_is_marked_then_cancelled_on_a_second_resync() -> None:
    world = World()
    world.tracker.add("stays")  # the listing is not empty: the project is still visible
    key = await started(world)
    world.tracker.delete(key)

    await world.tick(5)  # incremental reads cannot see a deletion
    assert (await world.task(key)).stage == "development"
    world.clock.advance(3600)
    first = await world.tick()
    assert first.full and first.changes == () and first.missing == 1
    assert (await world.task(key)).stage == "development"  # marked, nothing else
    assert [r.key for r in await world.store.missing()] == [key]
    world.clock.advance(3600)
    second = await world.tick()

    task = await world.task(key)
    assert task.stage == "cancelled" and task.reason is not None
    assert task.reason.startswith(f"{key} was deleted in Plane")
    assert second.full and Change(key, "deleted") in second.changes
    await world.tick(40)  # another full resync included
    assert world.pushes() == [f"{key} cancelled"]
    assert world.store.items == {}


async def test_incremental_reads_stop_at_the_watermark() -> None:
    world = World()
    for n in range(250):
        world.tracker.add(f"item {n}")
    first = await world.tick()
    assert first.full and first.items_seen == 250
    for key in ("PROJ-3", "PROJ-40", "PROJ-77"):
        world.tracker.move(key, "Todo")
    pages = world.tracker.requests["items_page"]

    report = await world.tick()

    assert not report.full
    assert world.tracker.requests["items_page"] == pages + 1
    assert 3 <= report.items_seen <= 6  # the three, and the overlap below the watermark
    assert report.repeats == report.items_seen - 3


async def test_relations_reach_the_dependency_sink_as_task_keys() -> None:
    world = World()
    blocker = await started(world, "Schema first")
    item = world.tracker.add("Then the API", "Approved")
    world.tracker.blockers[item.id] = (world.tracker.item_by_key(blocker).id, "i-unknown")

    await world.tick(2)  # the second sees orch's own write-backs come back
    assert (item.key, (blocker,)) in world.deps.told
    told = len(world.deps.told)
    await world.tick()
    assert len(world.deps.told) == told  # unchanged items: not read again
    world.clock.advance(3600)
    await world.tick()  # the full resync reads the relations of every open task
    assert len(world.deps.told) == told + 2


async def test_a_failing_item_is_isolated_counted_and_retried() -> None:
    world = World()
    world.tracker.add("Fragile", "Approved")
    world.tracker.add("Sturdy", "Approved")
    world.deps.fail_for = {"PROJ-1"}

    report = await world.tick()

    assert report.errors == 1 and "PROJ-1" in (report.last_error or "")
    assert (await world.task("PROJ-2")).stage == "development"
    world.deps.fail_for = set()
    retried = await world.tick()
    assert retried.errors == 0
    assert ("PROJ-1", ()) in world.deps.told


async def test_the_guard_holds_back_a_repeated_unblock_in_the_same_state() -> None:
    world = World()
    key = await started(world)
    world.tracker.move(key, "Blocked")
    await world.tick()
    world.tracker.move(key, "In Progress")
    world.store.fail_saves = 1  # the unblock is applied but not remembered
    failed = await world.tick()
    assert failed.errors == 1 and (await world.task(key)).stage == "development"
    task = await world.task(key)
    await world.pipeline.block(task.id, LEAD, "agent timed out")

    report = await world.tick()  # the retry still sees Blocked → In Progress

    assert report.deduped == 1 and world.current.stats.deduped_total == 1
    assert (await world.task(key)).stage == "blocked"
    assert world.pushes().count(f"{key} unblocked") == 1


async def test_reconcile_item_is_the_targeted_webhook_path() -> None:
    world = World()
    key = await started(world)
    item = world.tracker.move(key, "Blocked")

    report = await world.current.reconcile_item(world.tracker.project.id, item.id)
    again = await world.current.reconcile_item(world.tracker.project.id, item.id)
    elsewhere = await world.current.reconcile_item("p-other", item.id)

    assert report.changes == (Change(key, "blocked"),)
    assert again.changes == () and again.repeats == 1
    assert elsewhere.items_seen == 0
    assert world.pushes() == [f"{key} blocked"]


async def test_hints_are_worked_off_by_the_paced_work() -> None:
    world = World()
    key = await started(world)
    item = world.tracker.move(key, "Blocked")
    scheduler = ManualScheduler()
    pacer = Pacer(scheduler, world.current.work_off, name="plane-work")
    world.current.wake = pacer.poke

    assert world.current.hint(world.tracker.project.id, item.id)
    assert not world.current.hint(None, item.id)
    assert (await world.task(key)).stage == "development"  # a hint only asks
    assert await scheduler.run_soon() == 1
    await asyncio.wait_for(pacer.idle(), 5)
    assert (await world.task(key)).stage == "blocked"


async def test_the_queue_block_shows_the_figures() -> None:
    world = World()
    world.tracker.add("Finished long ago", "Done")
    await started(world)
    block = await world.current.queue_block()
    assert block.title == "reconcile"
    assert "2 seen" in block.lines[0] and "skipped terminal 1" in block.lines[1]
    assert block.data["skipped_terminal_total"] == 1 and block.data["deduped_total"] == 0
    assert block.data["last_error"] is None and block.data["api_calls"] > 0
