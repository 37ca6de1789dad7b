"""The DependencyStore contract: the fake and SQLite (a real file) pass all of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.errors import StorageError
from core.pipeline.tasks import ChangeKind, Task
from core.ports import EventDraft, TaskChange, TaskDraft
from storage.database import Database
from storage.dependencies import SqliteDependencyStore
from storage.tasks import SqliteTaskStore
from tests.fakes import InMemoryDependencyStore, InMemoryTaskStore

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)


class World:
    def __init__(self, tasks: Any, deps: Any) -> None:
        self.tasks = tasks
        self.deps = deps

    async def task(self, key: str) -> Task:
        applied = await self.tasks.create(
            TaskDraft(repo="api", title=key, stage="development", key=key),
            EventDraft("system", ChangeKind.CREATED), T0)
        return applied.task

    async def done(self, task: Task) -> None:
        current = await self.tasks.get(task.id)
        await self.tasks.compare_and_set(
            task.id, current.version, TaskChange("done", None, None),
            EventDraft("plane", ChangeKind.DONE), T1)


@pytest.fixture(params=["memory", "sqlite"])
def world(request: pytest.FixtureRequest) -> World:
    if request.param == "memory":
        tasks = InMemoryTaskStore()
        return World(tasks, InMemoryDependencyStore(tasks))
    db: Database = request.getfixturevalue("database")
    return World(SqliteTaskStore(db), SqliteDependencyStore(db))


async def test_add_is_idempotent_and_links_show_both_directions(world: World) -> None:
    a, b, c = [await world.task(k) for k in ("A-1", "B-1", "C-1")]

    assert await world.deps.add(b.id, a.id, "local", T0)
    assert not await world.deps.add(b.id, a.id, "plane", T0)
    assert await world.deps.add(c.id, a.id, "plane", T0)

    ups, downs = await world.deps.links(a.id)
    assert ups == []
    assert [(d.key, d.source, d.stage) for d in downs] == [
        ("B-1", "local", "development"), ("C-1", "plane", "development")]
    ups, _ = await world.deps.links(b.id)
    assert [d.key for d in ups] == ["A-1"]
    assert sorted(await world.deps.edges()) == sorted([(b.id, a.id), (c.id, a.id)])


async def test_a_task_cannot_depend_on_itself_in_the_store_either(world: World) -> None:
    a = await world.task("A-1")

    with pytest.raises(StorageError):
        await world.deps.add(a.id, a.id, "local", T0)


async def test_remove(world: World) -> None:
    a, b = await world.task("A-1"), await world.task("B-1")
    await world.deps.add(b.id, a.id, "local", T0)

    assert await world.deps.remove(b.id, a.id)
    assert not await world.deps.remove(b.id, a.id)
    assert await world.deps.edges() == []


async def test_replace_touches_only_its_source(world: World) -> None:
    a, b, c, d = [await world.task(k) for k in ("A-1", "B-1", "C-1", "D-1")]
    await world.deps.add(d.id, a.id, "local", T0)
    await world.deps.add(d.id, b.id, "plane", T0)

    added, removed = await world.deps.replace(d.id, "plane", [a.id, c.id], T0)

    assert (added, removed) == ([c.id], [b.id])  # a is declared locally already
    ups, _ = await world.deps.links(d.id)
    assert [(x.key, x.source) for x in ups] == [("A-1", "local"), ("C-1", "plane")]


async def test_unmet_lists_what_is_not_done(world: World) -> None:
    a, b, c = [await world.task(k) for k in ("A-1", "B-1", "C-1")]
    await world.deps.add(c.id, b.id, "local", T0)
    await world.deps.add(c.id, a.id, "local", T0)

    assert await world.deps.unmet([a.id, c.id]) == {c.id: ["A-1", "B-1"]}
    await world.done(a)
    assert await world.deps.unmet([c.id]) == {c.id: ["B-1"]}
    assert await world.deps.unmet([]) == {}


async def test_release_reports_each_satisfied_edge_once(world: World) -> None:
    a, b, c = [await world.task(k) for k in ("A-1", "B-1", "C-1")]
    await world.deps.add(c.id, a.id, "local", T0)
    await world.deps.add(c.id, b.id, "local", T0)
    await world.deps.add(b.id, a.id, "local", T0)

    assert await world.deps.release_done(T1) == []
    await world.done(a)
    first = await world.deps.release_done(T1)
    second = await world.deps.release_done(T1)

    by_task = {s.task_id: (s.done_keys, s.all_met) for s in first}
    assert by_task == {b.id: (("A-1",), True), c.id: (("A-1",), False)}
    assert second == []
    await world.done(b)
    assert [(s.task_id, s.all_met) for s in await world.deps.release_done(T1)] == [(c.id, True)]


async def test_an_edge_to_a_done_task_is_satisfied_from_the_start(world: World) -> None:
    a, b = await world.task("A-1"), await world.task("B-1")
    await world.done(a)

    await world.deps.add(b.id, a.id, "local", T1)

    assert await world.deps.release_done(T1) == []
    assert await world.deps.unmet([b.id]) == {}
