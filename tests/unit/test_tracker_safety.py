"""The tracker edge over fakes: mass disappearance pauses for a person, a lone 404 only
marks, bulk edits become one full scan, write-back rows survive and repair, keys keep to
their namespace."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.errors import ConfigError
from core.pipeline.tasks import Actor
from core.sync.config import SyncConfig
from core.sync.vanish import Pause
from core.tracker import TrackerProject
from tests.reconcile_world import World

LEAD = Actor("telegram", "7", "Lead")


async def followed(world: World, n: int) -> list[str]:
    keys = [world.tracker.add(f"task {i}", "Approved").key for i in range(n)]
    await world.tick(2)
    return keys


def alerted(world: World) -> list[Pause]:
    seen: list[Pause] = []
    world.current._alert = seen.append  # the runtime's hook: one chat alert per pause
    return seen


async def four_of_five_vanish(world: World) -> tuple[list[str], list[Pause]]:
    """Five followed items (and one more), four deleted at once: keys, and the alerts."""
    world.tracker.add("stays")
    keys = await followed(world, 5)
    alerts = alerted(world)
    for key in keys[:4]:
        world.tracker.delete(key)
    return keys, alerts


async def test_most_items_vanishing_at_once_pauses_the_project_and_cancels_nothing() -> None:
    world = World()
    keys, alerts = await four_of_five_vanish(world)

    world.clock.advance(3600)
    first = await world.tick()
    world.clock.advance(7200)
    later = await world.tick()  # still paused: two resyncs apart change nothing either

    assert [p.missing for p in alerts] == [4]  # one alert
    assert [(await world.task(k)).stage for k in keys] == ["development"] * 5
    assert first.changes == () and later.paused_projects == 1 and later.items_seen == 0
    assert world.pushes() == []
    text = "\n".join((await world.current.queue_block()).lines)
    assert "PROJ sync paused: 4 of 5 items vanished at once" in text


async def test_confirming_the_pause_cancels_what_is_still_gone_and_resumes() -> None:
    world = World()
    keys, alerts = await four_of_five_vanish(world)
    world.clock.advance(3600)
    await world.tick()

    done = await world.current.confirm_pause(alerts[0].id, LEAD)
    again = await world.current.confirm_pause(alerts[0].id, LEAD)

    assert done is not None and done[1] == 4 and again is None
    assert [(await world.task(k)).stage for k in keys] == ["cancelled"] * 4 + ["development"]
    assert (await world.tick()).paused_projects == 0


async def test_a_lone_404_marks_and_the_listing_clears_the_mark() -> None:
    world = World()
    world.tracker.add("stays")
    (key,) = await followed(world, 1)
    item = world.tracker.item_by_key(key)
    del world.tracker.items[item.id]

    report = await world.current.reconcile_item(item.project_id, item.id)
    assert report.missing == 1 and report.changes == ()
    assert [r.key for r in await world.store.missing()] == [key]
    world.tracker.items[item.id] = item  # it was a blip
    world.clock.advance(3600)
    await world.tick()
    assert await world.store.missing() == []
    assert (await world.task(key)).stage == "development"


async def test_two_resyncs_closer_than_the_confirmation_wait_cancel_nothing() -> None:
    world = World(config=SyncConfig(resync_interval_s=600))
    world.tracker.add("stays")
    (key,) = await followed(world, 1)
    world.tracker.delete(key)
    for _ in range(3):  # resyncs 10 minutes apart: under the 30 minutes asked for
        world.clock.advance(600)
        await world.current.tick()
    assert (await world.task(key)).stage == "development"
    world.clock.advance(1800)
    await world.current.tick()
    assert (await world.task(key)).stage == "cancelled"


async def test_a_bulk_edit_is_read_as_one_full_scan() -> None:
    world = World()
    for n in range(4500):
        world.tracker.add(f"item {n}")
    await world.tick()  # the first tick is a full scan
    for item in list(world.tracker.items.values()):
        world.tracker.touch(item.key)  # a bulk edit of every item
    world.tracker.requests.clear()

    report = await world.tick()

    assert report.full and report.items_seen == 4500
    # one small page, then the largest pages from the start; past three of them the walk
    # is a full scan: 1 + 5 pages, where 100 a page would have taken 45
    assert world.tracker.requests["items_page"] == 6


async def test_write_back_rows_left_running_by_a_dead_process_are_retried() -> None:
    world = World()
    world.tracker.add("Ship", "Approved")
    world.tracker.fail_comments = 1
    await world.tick()  # the task starts; the state is set, its comment fails
    row = world.outbox.rows[0]
    row.status = row.status.RUNNING  # as a process killed mid-write leaves it
    world.reconciler()  # the restart
    await world.tick(4)
    assert world.outbox.statuses() == ["PROJ-1 v2 failed", "PROJ-1 v2 succeeded"]
    assert world.tracker.writes == [(row.draft.item_id, "s-in-progress")]  # once
    assert list(world.tracker.comments) == ["orch-1-v2"]


def test_the_task_key_prefix_may_not_be_a_followed_projects_identifier() -> None:
    projects = [TrackerProject("p-1", "ORCH", "Orchestrator"), TrackerProject("p-2", "WEB", "")]
    with pytest.raises(ConfigError) as refused:
        SyncConfig().check_key_prefix("orch", projects)
    assert refused.value.setting == "ORCH_TASK_KEY_PREFIX"
    assert "ORCH" in refused.value.expected
    SyncConfig(projects=("WEB",)).check_key_prefix("ORCH", projects)  # not followed: fine
    SyncConfig().check_key_prefix("TASK", projects)


async def test_a_tracker_item_whose_key_was_taken_by_new_still_gets_a_task() -> None:
    world = World()
    await world.pipeline.create("proj", "made in the chat", LEAD, key="PROJ-1")
    world.tracker.add("from Plane", "Approved")
    await world.tick()
    task = await world.tasks.find(tracker_id=world.tracker.item_by_key("PROJ-1").id)
    assert task is not None and task.key != "PROJ-1" and task.stage == "development"
    assert (await world.tick(3)).errors == 0


def test_the_safety_options_are_read_from_orch_config() -> None:
    from core.config import Settings

    settings = replace(Settings(), plane_options={
        "missing_confirm_after_min": 45, "mass_missing_share": 0.25, "mass_missing_min": 2,
        "cancelled_releases": False, "rate_margin": 0.2, "max_retry_after_s": 30})
    config = SyncConfig.from_settings(settings)
    assert (config.vanish.confirm_after_s, config.vanish.mass_share, config.vanish.mass_min) == (
        2700, 0.25, 2)
    assert (config.cancelled_releases, config.rate_margin, config.max_retry_after_s) == (
        False, 0.2, 30)
    with pytest.raises(ConfigError):
        SyncConfig.from_settings(replace(settings, plane_options={"rate_margin": 1.5}))


async def test_a_slow_incremental_walk_yields_after_its_page_and_goes_on_next_tick() -> None:
    world = World(config=SyncConfig(page_size=10, full_page_size=10, bulk_pages=50,
                                    tick_budget_s=0))
    for n in range(30):
        world.tracker.add(f"item {n}")
    await world.tick()  # full: never yields
    for item in list(world.tracker.items.values())[:25]:
        world.tracker.touch(item.key)

    report = await world.tick()

    assert report.yielded == 1 and not report.full
    assert world.store.positions["p-1"].watermark is not None
    before = world.store.positions["p-1"]
    await world.tick()
    assert world.store.positions["p-1"] == before  # not advanced past what was unread
