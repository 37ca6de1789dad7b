"""DependencyService over in-memory stores: declaring, explaining, releasing once,
cycles blocked and alerted once, Plane relations, and the kill-switch."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.deps.service import DependencyCycle, DependencyService, Ingested
from core.errors import DomainError, UnknownTask
from core.pipeline.stages import BLOCKED, DONE
from core.pipeline.tasks import ChangeKind, Task
from tests.pipeline_world import LEAD, World, settings_for


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


@pytest.fixture
def alerts(world: World) -> list[DependencyCycle]:
    found: list[DependencyCycle] = []
    world.deps._on_cycle = found.append
    return found


async def finish(world: World, task: Task) -> Task:
    return await world.pipeline.close(task.id, LEAD, "shipped")


def released(world: World) -> list[tuple[str, str | None]]:
    return [(t.key, e.reason) for e, t in world.notifier.published
            if e.kind is ChangeKind.DEPS_RELEASED]


async def test_declare_by_key_in_any_repo(world: World) -> None:
    a = await world.approved("A", repo="api")
    b = await world.approved("B", repo="web")

    declared = await world.deps.declare(b.key.lower(), a.key)

    assert (declared.task.key, declared.depends_on.key, declared.added) == (b.key, a.key, True)
    view = await world.deps.links(a.key)
    assert [(d.key, d.source) for d in view.dependents] == [(b.key, "local")]
    assert [d.key for d in (await world.deps.links(b.key)).depends_on] == [a.key]
    assert not (await world.deps.declare(b.key, a.key)).added


async def test_an_unknown_key_is_refused_clearly(world: World) -> None:
    b = await world.approved("B")

    with pytest.raises(UnknownTask, match=r"Unknown task ORCH-999\."):
        await world.deps.declare(b.key, "ORCH-999")


async def test_a_task_cannot_depend_on_itself(world: World) -> None:
    b = await world.approved("B")

    with pytest.raises(DomainError, match="cannot depend on itself"):
        await world.deps.declare(b.key, b.key)


async def test_waits_names_the_unfinished_dependencies(world: World) -> None:
    a, c = await world.approved("A"), await world.approved("C")
    b = await world.approved("B")
    await world.deps.declare(b.key, a.key)
    await world.deps.declare(b.key, c.key)

    assert await world.deps.waits([a, b, c]) == {b.id: f"waits for {a.key}, {c.key}"}
    await finish(world, a)
    assert await world.deps.card_note(await world.task(b.id)) == f"waits for {c.key}"
    assert not await world.deps.is_ready(b.id)


async def test_the_last_dependency_done_releases_once(world: World) -> None:
    a, c = await world.approved("A"), await world.approved("C")
    b = await world.approved("B")
    await world.deps.declare(b.key, a.key)
    await world.deps.declare(b.key, c.key)

    await finish(world, a)
    assert await world.deps.release_ready() == []
    await finish(world, c)
    first = await world.deps.release_ready()
    again = await world.deps.release_ready()

    assert [t.key for t in first] == [b.key] and again == []
    assert released(world) == [(b.key, f"{c.key} done")]
    task = await world.task(b.id)
    assert task.stage == "development" and await world.deps.is_ready(b.id)


async def test_a_dependency_done_already_releases_nothing(world: World) -> None:
    a, b = await world.approved("A"), await world.approved("B")
    await finish(world, a)

    await world.deps.declare(b.key, a.key)

    assert await world.deps.release_ready() == []
    assert await world.deps.is_ready(b.id)


async def test_a_task_still_waiting_for_approval_is_not_announced(world: World) -> None:
    a = await world.approved("A")
    b = await world.pipeline.create("api", "B", LEAD)  # still queued
    await world.deps.declare(b.key, a.key)

    await finish(world, a)

    assert await world.deps.release_ready() == [] and released(world) == []


async def test_a_cycle_blocks_every_task_on_it_and_alerts_once(
        world: World, alerts: list[DependencyCycle]) -> None:
    a, b, c = [await world.approved(n) for n in "ABC"]
    await world.deps.declare(a.key, b.key)
    await world.deps.declare(b.key, c.key)

    declared = await world.deps.declare(c.key, a.key)

    spelled = f"{a.key} → {b.key} → {c.key} → {a.key}"
    assert declared.cycle is not None and declared.cycle.spelled == spelled
    for task in (a, b, c):
        now = await world.task(task.id)
        assert (now.stage, now.reason) == (BLOCKED, f"cycle {spelled}")
    assert [cycle.spelled for cycle in alerts] == [spelled]

    await world.deps.declare(c.key, a.key)  # seen again, e.g. the next reconcile
    await world.deps.ingest_relations(await world.task(c.id), [a.key], source="plane")
    assert len(alerts) == 1 and world.deps.cycles_alerted_total == 1


async def test_a_failing_alert_is_contained(world: World) -> None:
    def broken(cycle: DependencyCycle) -> None:
        raise RuntimeError("chat down")

    world.deps._on_cycle = broken
    a, b = await world.approved("A"), await world.approved("B")
    await world.deps.declare(a.key, b.key)

    declared = await world.deps.declare(b.key, a.key)

    assert declared.cycle is not None and (await world.task(a.id)).stage == BLOCKED


async def test_plane_relations_replace_plane_edges_and_keep_local_ones(world: World) -> None:
    a, b, c, d = [await world.approved(n) for n in "ABCD"]
    await world.deps.declare(d.key, a.key)  # local

    first = await world.deps.ingest_relations(d, [b.key, "ORCH-404", d.key], source="plane")
    second = await world.deps.ingest_relations(d, [c.key, a.key], source="plane")

    assert (first.added, first.unknown) == ((b.key,), ("ORCH-404",))
    assert (second.added, second.removed) == ((c.key,), (b.key,))
    links = (await world.deps.links(d.key)).depends_on
    assert [(x.key, x.source) for x in links] == [(a.key, "local"), (c.key, "plane")]


async def test_the_kill_switch_makes_it_all_inert(tmp_path: Path) -> None:
    world = World(tmp_path, settings=settings_for(task_deps_enabled=False))
    a, b = await world.approved("A"), await world.approved("B")
    await world.dep_store.add(b.id, a.id, "local", world.clock.now())  # declared earlier

    with pytest.raises(DomainError, match="switched off"):
        await world.deps.declare(b.key, a.key)
    assert await world.deps.ingest_relations(b, [a.key], source="plane") == Ingested()
    assert await world.deps.waits([b]) == {} and await world.deps.is_ready(b.id)
    await world.engine.drain()
    await world.loop.run_once()  # the claim ignores the table: B runs while A has not
    assert {r.task_key for r in world.runner.requests} == {a.key, b.key}
    await finish(world, a)
    assert await world.deps.release_ready() == []


async def test_removing_the_last_waiting_edge_frees_the_task(world: World) -> None:
    a, b = await world.approved("A"), await world.approved("B")
    await world.deps.declare(b.key, a.key)
    changed: list[int] = []
    service = DependencyService(world.dep_store, world.pipeline, world.clock,
                                on_waits_changed=changed.append)

    assert await service.remove(b.key, a.key)
    assert not await service.remove(b.key, a.key)
    assert await service.is_ready(b.id) and changed == [b.id]


async def test_done_tasks_are_shown_in_both_directions(world: World) -> None:
    a, b = await world.approved("A"), await world.approved("B")
    await world.deps.declare(b.key, a.key)
    await finish(world, a)

    view = await world.deps.links(b.key)

    assert [(d.key, d.stage) for d in view.depends_on] == [(a.key, DONE)]
