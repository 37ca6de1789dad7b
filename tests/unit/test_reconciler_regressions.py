"""Regressions the reconciler must never repeat (seed 000, incident ET-002: a done item
reported "unblocked" every tick all night), and a tracker outage."""

from __future__ import annotations

from core.config import DEFAULT_STATE_NAMES
from core.errors import TrackerUnavailable
from core.pipeline.tasks import Actor
from core.sync.rules import Standing, standing_of
from tests.reconcile_world import World

LEAD = Actor("telegram", "7", "Lead")
# The approved key aliased onto the Done state: the configuration that caused ET-002.
ALIASED = {**DEFAULT_STATE_NAMES, "approved": "Done"}


async def test_et002_done_item_aliased_as_approved_stays_silent_for_300_ticks() -> None:
    world = World(names=ALIASED)
    item = world.tracker.add("Shipped last week", "Done")
    states = await world.current._states.get(world.tracker.project.id)
    assert states.id_for("approved") == item.state_id  # the alias is really there

    reports = [await world.tick() for _ in range(300)]  # ten hours: ten full resyncs

    assert world.notifier.published == [] and world.pushes() == []
    assert await world.tasks.find(tracker_id=item.id) is None
    assert world.current.stats.skipped_terminal_total >= 10
    assert sum(r.full for r in reports) >= 10 and all(r.errors == 0 for r in reports)
    assert standing_of(states, item.state_id) is Standing.DONE


async def test_et002_through_webhooks_stays_silent() -> None:
    world = World(names=ALIASED)
    item = world.tracker.add("Shipped last week", "Done")
    await world.tick()
    for n in range(300):
        if n % 3 == 0:
            world.tracker.touch(item.key)  # a comment, a label: Plane sends a delivery
        await world.current.reconcile_item(world.tracker.project.id, item.id)
    assert world.notifier.published == []
    assert world.current.stats.skipped_terminal_total >= 100


async def test_a_flapping_tracker_makes_no_push() -> None:
    world = World()
    item = world.tracker.add("Flaps", "Approved")
    await world.tick()
    before = world.events()
    for n in range(200):
        world.tracker.move(item.key, "In Progress" if n % 2 else "Doing")
        await world.tick()
    assert world.events() == before and world.pushes() == []
    assert (await world.task(item.key)).stage == "development"


async def test_et002_restart_mid_sequence_stays_silent() -> None:
    world = World(names=ALIASED)
    item = world.tracker.add("Shipped last week", "Done")
    await world.tick(150)
    world.reconciler()  # restart: a new reconciler, same stores
    await world.tick(150)
    assert world.notifier.published == []
    assert await world.tasks.find(tracker_id=item.id) is None


async def test_a_restart_mid_sequence_repeats_no_push() -> None:
    world = World()
    done = world.tracker.add("Shipped", "Done")
    item = world.tracker.add("Running", "In Progress")
    item = world.tracker.move(item.key, "Approved")
    await world.tick(5)
    world.tracker.move(item.key, "Blocked")
    await world.tick()
    world.tracker.move(item.key, "In Progress")
    await world.tick()
    pushes = world.pushes()

    world.reconciler()  # restart: a new reconciler, same stores
    await world.tick(100)
    world.reconciler()
    await world.tick(100)

    assert world.pushes() == pushes == [f"{item.key} blocked", f"{item.key} unblocked"]
    assert await world.tasks.find(tracker_id=done.id) is None


async def test_an_outage_changes_nothing_and_the_first_good_tick_catches_up() -> None:
    world = World()
    key = world.tracker.add("Running", "Approved").key
    await world.tick(2)
    before = world.events()
    world.tracker.down = TrackerUnavailable("Plane GET work-items failed 4 times; last: 502")

    reports = [await world.tick() for _ in range(50)]
    world.tracker.move(key, "Blocked")  # a person blocks it while orch cannot see
    reports += [await world.tick() for _ in range(10)]

    assert world.events() == before
    assert all(r.errors >= 1 and r.changes == () for r in reports)
    assert world.current.stats.errors_total >= 60
    block = await world.current.queue_block()
    assert "502" in (block.data["last_error"] or "")

    world.tracker.down = None
    recovered = await world.tick()
    assert recovered.errors == 0 and [c.what for c in recovered.changes] == ["blocked"]
    assert world.pushes() == [f"{key} blocked"]


async def test_an_outage_from_the_start_is_counted_not_raised() -> None:
    world = World()
    world.tracker.add("Waiting", "Approved")
    world.tracker.down = TrackerUnavailable("connection refused")
    report = await world.tick()
    assert report.errors == 1 and report.items_seen == 0
    world.tracker.down = None
    assert (await world.tick()).changes[0].what == "created"


async def test_writebacks_wait_out_an_outage_and_post_once() -> None:
    world = World()
    key = world.tracker.add("Running", "Approved").key
    await world.tick(2)
    task = await world.task(key)
    world.tracker.down = TrackerUnavailable("Plane is down")
    await world.pipeline.advance(task.id, LEAD)
    await world.tick(20)
    assert world.current.writeback.pending == 1
    world.tracker.down = None
    await world.tick(3)
    assert world.current.writeback.pending == 0
    assert "orch-1-v3" in world.tracker.comments
    assert world.tracker.comment_posts == 2  # the start, and this move: once each
    assert world.pushes() == []
