"""The Tracker contract: FakeTracker (the unit tests' tracker) and PlaneClient against the
Plane emulator on 127.0.0.1 pass the same test bodies, so what the sync's unit tests
assume of a tracker is what Plane does. A second tracker adapter joins with a harness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import pytest

from core.errors import TrackerRejected
from core.integrations.plane.client import PlaneClient
from core.ports import Tracker
from core.ratebudget import RateBudget
from core.tracker import StateGroup, iter_items
from sandbox.plane import PlaneEmulator, serve_emulator
from sandbox.plane_team import seed_team_project
from tests.fakes import FakeTracker
from tests.plane_support import KEY, JumpClock


class Scene(Protocol):
    """One project with the team's states, and the people who change it."""

    tracker: Tracker
    project_id: str
    identifier: str

    def add(self, name: str, state: str, text: str = "") -> str:
        """File an item (its description `text`, in the tracker's own format); its key."""
        ...

    def move(self, key: str, state: str) -> None: ...

    def block(self, key: str, by: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def item_id(self, key: str) -> str: ...


class FakeScene:
    def __init__(self) -> None:
        self.fake = FakeTracker("ORCH")
        self.tracker: Tracker = self.fake
        self.project_id, self.identifier = self.fake.project.id, "ORCH"

    def add(self, name: str, state: str, text: str = "") -> str:
        return self.fake.add(name, state, text).key

    def move(self, key: str, state: str) -> None:
        self.fake.move(key, state)

    def block(self, key: str, by: str) -> None:
        self.fake.blockers[self.item_id(key)] = (self.item_id(by),)
        self.fake.touch(key)

    def delete(self, key: str) -> None:
        self.fake.delete(key)

    def item_id(self, key: str) -> str:
        return self.fake.item_by_key(key).id


class PlaneScene:
    def __init__(self, emulator: PlaneEmulator, client: PlaneClient) -> None:
        self.emulator = emulator
        self.tracker: Tracker = client
        self.project_id, self.identifier = emulator.project("ORCH").id, "ORCH"

    def add(self, name: str, state: str, text: str = "") -> str:
        item = self.emulator.add_item("ORCH", name, state=state,
                                      description_html=f"<p>{text}</p>" if text else "")
        return self.emulator.key_of(item)

    def move(self, key: str, state: str) -> None:
        self.emulator.move_item(key, state)

    def block(self, key: str, by: str) -> None:
        self.emulator.add_relation(key, by)

    def delete(self, key: str) -> None:
        self.emulator.delete_item(key)

    def item_id(self, key: str) -> str:
        return self.emulator.item(key).id


@pytest.fixture(params=["fake", "plane"])
async def scene(request: pytest.FixtureRequest) -> AsyncIterator[Scene]:
    if request.param == "fake":
        yield FakeScene()
        return
    clock = JumpClock()
    emulator = PlaneEmulator(clock, KEY, "acme", rate_limit_per_min=600)
    seed_team_project(emulator, "ORCH")
    async with serve_emulator(emulator) as url:
        async with PlaneClient(url, KEY, "acme", clock=clock,
                               budget=RateBudget(clock, 600)) as client:
            yield PlaneScene(emulator, client)


async def state_id(scene: Scene, name: str) -> str:
    states = await scene.tracker.states(scene.project_id)
    return next(s.id for s in states if s.name == name)


async def test_the_tracker_has_a_lowercase_name(scene: Scene) -> None:
    assert scene.tracker.name == "plane"
    assert scene.tracker.name.isidentifier() and scene.tracker.name.islower()


async def test_projects_include_the_project_by_identifier(scene: Scene) -> None:
    projects = await scene.tracker.projects()
    assert [(p.id, p.identifier) for p in projects if p.identifier == "ORCH"] == [
        (scene.project_id, "ORCH")]


async def test_states_come_with_their_groups(scene: Scene) -> None:
    states = {s.name: s.group for s in await scene.tracker.states(scene.project_id)}
    assert {"Backlog", "Approved", "In Progress", "Blocked", "Done", "Cancelled"} <= set(states)
    assert (states["Backlog"], states["Done"], states["Cancelled"]) == (
        StateGroup.BACKLOG, StateGroup.COMPLETED, StateGroup.CANCELLED)


async def test_an_item_reads_alike_by_id_and_by_key_with_plain_text(scene: Scene) -> None:
    key = scene.add("Add retry", "Approved", "Retry twice")

    by_id = await scene.tracker.item(scene.project_id, scene.item_id(key))
    by_key = await scene.tracker.item(scene.project_id, key)

    assert by_id == by_key
    assert (by_id.key, by_id.name, by_id.description) == (key, "Add retry", "Retry twice")
    assert by_id.state_id == await state_id(scene, "Approved")


async def test_an_unknown_or_deleted_item_is_rejected_with_404(scene: Scene) -> None:
    key = scene.add("Short-lived", "Backlog")
    item_id = scene.item_id(key)
    scene.delete(key)

    for ref in (item_id, key, "ORCH-999"):
        with pytest.raises(TrackerRejected) as refused:
            await scene.tracker.item(scene.project_id, ref)
        assert refused.value.status == 404
    assert [i.key async for i in iter_items(scene.tracker, scene.project_id)] == []


async def test_pages_list_newest_change_first_each_item_once(scene: Scene) -> None:
    keys = [scene.add(f"Item {n}", "Backlog") for n in range(5)]
    scene.move(keys[1], "Todo")  # now the newest change

    first = await scene.tracker.items_page(scene.project_id, per_page=2)
    listed = [i.key async for i in iter_items(scene.tracker, scene.project_id, per_page=2)]

    assert len(first.items) == 2 and first.next_cursor is not None
    assert first.items[0].key == keys[1]
    assert sorted(listed) == sorted(keys) and len(listed) == len(set(listed))
    stamps = [(await scene.tracker.item(scene.project_id, k)).updated_at for k in listed]
    assert stamps == sorted(stamps, reverse=True)


async def test_relations_name_the_blockers_by_item_id(scene: Scene) -> None:
    first, second = scene.add("First", "Approved"), scene.add("Second", "Approved")
    scene.block(second, first)

    relations = await scene.tracker.relations(scene.project_id, scene.item_id(second))
    free = await scene.tracker.relations(scene.project_id, scene.item_id(first))

    assert relations.blocked_by == (scene.item_id(first),)
    assert free.blocked_by == ()


async def test_set_state_moves_the_item_and_is_safe_to_repeat(scene: Scene) -> None:
    key = scene.add("Ship it", "In Progress")
    item_id, review = scene.item_id(key), await state_id(scene, "In Review")

    await scene.tracker.set_state(scene.project_id, item_id, review)
    await scene.tracker.set_state(scene.project_id, item_id, review)

    assert (await scene.tracker.item(scene.project_id, key)).state_id == review


async def test_a_comment_is_posted_once_per_external_id(scene: Scene) -> None:
    key = scene.add("Talk about it", "In Progress")
    item_id = scene.item_id(key)

    first = await scene.tracker.comment(scene.project_id, item_id, "<p>one</p>", "orch-1-v2")
    again = await scene.tracker.comment(scene.project_id, item_id, "<p>one</p>", "orch-1-v2")
    other = await scene.tracker.comment(scene.project_id, item_id, "<p>two</p>", "orch-1-v3")

    assert first == again and other != first


async def test_a_move_names_the_person_and_orchs_own_write_names_nobody(scene: Scene) -> None:
    key = scene.add("Who moved it", "Approved")
    scene.move(key, "Blocked")  # by the scene's person: Alice

    read = await scene.tracker.item(scene.project_id, key)
    listed = (await scene.tracker.items_page(scene.project_id)).items[0]
    assert read.changed_by == listed.changed_by == "Alice"

    started = await state_id(scene, "In Progress")
    await scene.tracker.set_state(scene.project_id, scene.item_id(key), started)
    assert (await scene.tracker.item(scene.project_id, key)).changed_by == ""
