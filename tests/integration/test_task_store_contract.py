"""The TaskStore contract: every implementation (fake and SQLite) must pass all of it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import DuplicateTask, StorageError
from core.pipeline.tasks import ChangeKind, Task
from core.ports import EventDraft, TaskChange, TaskDraft, TaskStore

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
T2 = T0 + timedelta(minutes=9)

DRAFT = TaskDraft(repo="app", title="Fix it", stage="queued")
CREATED = EventDraft("system", ChangeKind.CREATED)


def moved(actor: str = "engine", reason: str | None = None) -> EventDraft:
    return EventDraft(actor, ChangeKind.ADVANCED, reason)


async def create(store: TaskStore, at: datetime = T0, **fields: str) -> Task:
    return (await store.create(replace(DRAFT, **fields), CREATED, at)).task


async def to_stage(store: TaskStore, task: Task, stage: str, at: datetime = T1) -> Task:
    applied = await store.compare_and_set(
        task.id, task.version, TaskChange(stage, None, None), moved(), at
    )
    assert applied is not None
    return applied.task


# --- create -------------------------------------------------------------------------


async def test_create_allocates_consecutive_keys_per_prefix(task_store: TaskStore) -> None:
    keys = [(await create(task_store, key_prefix=p)).key for p in ("ORCH", "ORCH", "WEB", "ORCH")]

    assert keys == ["ORCH-1", "ORCH-2", "WEB-1", "ORCH-3"]


async def test_create_stores_the_draft_at_version_one(task_store: TaskStore) -> None:
    task = await create(task_store, key="APP-7", description="d", tracker_id="u-1", source="plane")

    assert (task.key, task.branch, task.stage, task.version) == ("APP-7", "orch/app-7", "queued", 1)
    assert (task.description, task.tracker_id, task.source) == ("d", "u-1", "plane")
    assert task.created_at == task.updated_at == task.stage_entered_at == T0
    assert task.blocked_from is None
    assert await task_store.get(task.id) == task


async def test_create_writes_one_created_event(task_store: TaskStore) -> None:
    applied = await task_store.create(TaskDraft("app", "t", "queued"), CREATED, T0)

    event = applied.event
    assert (event.kind, event.from_stage, event.to_stage, event.version) == (
        ChangeKind.CREATED,
        None,
        "queued",
        1,
    )
    assert (event.task_id, event.key, event.actor, event.at) == (
        applied.task.id,
        applied.task.key,
        "system",
        T0,
    )
    assert list(await task_store.events(applied.task.id)) == [event]


async def test_create_refuses_a_duplicate_key(task_store: TaskStore) -> None:
    await create(task_store, key="APP-1")

    with pytest.raises(DuplicateTask):
        await create(task_store, key="APP-1")


async def test_create_refuses_a_duplicate_tracker_id(task_store: TaskStore) -> None:
    await create(task_store, tracker_id="u-1")

    with pytest.raises(DuplicateTask):
        await create(task_store, tracker_id="u-1")
    assert len(await task_store.list_open()) == 1


async def test_a_refused_create_uses_up_its_key_and_taken_keys_are_skipped(
        task_store: TaskStore) -> None:
    await create(task_store, tracker_id="u-1")
    with pytest.raises(DuplicateTask):
        await create(task_store, tracker_id="u-1")  # ORCH-2 is never handed out again
    await create(task_store, key="ORCH-4", tracker_id="u-4")  # taken by another namespace

    assert (await create(task_store)).key == "ORCH-3"
    assert (await create(task_store)).key == "ORCH-5"


async def test_many_tasks_may_have_no_tracker_id(task_store: TaskStore) -> None:
    await create(task_store)
    await create(task_store)

    assert len(await task_store.list_open()) == 2


# --- reads --------------------------------------------------------------------------


async def test_get_of_an_unknown_id_is_none(task_store: TaskStore) -> None:
    assert await task_store.get(404) is None


async def test_find_by_key_ignores_case(task_store: TaskStore) -> None:
    task = await create(task_store)

    assert await task_store.find(key="orch-1") == task
    assert await task_store.find(key="ORCH-2") is None


async def test_find_by_tracker_id(task_store: TaskStore) -> None:
    task = await create(task_store, tracker_id="u-1")

    assert await task_store.find(tracker_id="u-1") == task
    assert await task_store.find(tracker_id="u-2") is None
    assert await task_store.find() is None


async def test_list_open_leaves_out_done_and_cancelled(task_store: TaskStore) -> None:
    first, second, third = [await create(task_store) for _ in range(3)]
    await to_stage(task_store, first, "done")
    await to_stage(task_store, third, "cancelled")

    assert [t.key for t in await task_store.list_open()] == [second.key]


async def test_list_open_is_oldest_first_by_time_in_stage(task_store: TaskStore) -> None:
    first = await create(task_store, at=T0)
    second = await create(task_store, at=T1)
    await to_stage(task_store, first, "development", at=T2)

    assert [t.key for t in await task_store.list_open()] == [second.key, first.key]


# --- compare-and-set ----------------------------------------------------------------


async def test_cas_applies_the_change_and_bumps_the_version(task_store: TaskStore) -> None:
    task = await create(task_store)

    applied = await task_store.compare_and_set(
        task.id, 1, TaskChange("development", None, "go"), moved("telegram:1", "go"), T1
    )

    assert applied is not None
    assert (applied.task.stage, applied.task.version, applied.task.reason) == (
        "development",
        2,
        "go",
    )
    assert applied.task.updated_at == applied.task.stage_entered_at == T1
    assert applied.task.created_at == T0
    assert await task_store.get(task.id) == applied.task


async def test_cas_writes_an_event_for_the_new_version(task_store: TaskStore) -> None:
    task = await create(task_store)

    applied = await task_store.compare_and_set(
        task.id, 1, TaskChange("development", None, None), moved("telegram:1", "go"), T1
    )

    assert applied is not None
    event = applied.event
    assert (event.from_stage, event.to_stage, event.version) == ("queued", "development", 2)
    assert (event.actor, event.kind, event.reason, event.at) == (
        "telegram:1",
        ChangeKind.ADVANCED,
        "go",
        T1,
    )


async def test_cas_on_a_stale_version_is_none_and_changes_nothing(task_store: TaskStore) -> None:
    task = await to_stage(task_store, await create(task_store), "development")

    stale = await task_store.compare_and_set(
        task.id, 1, TaskChange("review", None, None), moved(), T2
    )

    assert stale is None
    assert await task_store.get(task.id) == task
    assert [e.version for e in await task_store.events(task.id)] == [1, 2]


async def test_cas_on_an_unknown_task_is_none(task_store: TaskStore) -> None:
    assert await task_store.compare_and_set(9, 1, TaskChange("x", None, None), moved(), T1) is None


async def test_cas_in_the_same_stage_keeps_the_time_entered(task_store: TaskStore) -> None:
    task = await create(task_store)

    applied = await task_store.compare_and_set(
        task.id, 1, TaskChange("queued", None, "note"), EventDraft("s", ChangeKind.NOTE), T1
    )

    assert applied is not None
    assert (applied.task.stage_entered_at, applied.task.updated_at) == (T0, T1)
    assert not applied.event.stage_changed


async def test_cas_changes_title_and_description_only_when_given(task_store: TaskStore) -> None:
    task = await create(task_store, description="old")
    change = TaskChange("queued", None, None, title="New title")

    applied = await task_store.compare_and_set(task.id, 1, change, moved(), T1)

    assert applied is not None
    assert (applied.task.title, applied.task.description) == ("New title", "old")


async def test_cas_keeps_blocked_from_while_blocked(task_store: TaskStore) -> None:
    task = await create(task_store)

    applied = await task_store.compare_and_set(
        task.id, 1, TaskChange("blocked", "queued", "waiting"), moved(), T1
    )

    assert applied is not None
    assert (applied.task.stage, applied.task.blocked_from) == ("blocked", "queued")


@pytest.mark.parametrize(("stage", "blocked_from"), [("blocked", None), ("review", "queued")])
async def test_cas_refuses_blocked_without_blocked_from_or_the_reverse(
    task_store: TaskStore, stage: str, blocked_from: str | None
) -> None:
    task = await create(task_store)

    with pytest.raises(StorageError):
        await task_store.compare_and_set(
            task.id, 1, TaskChange(stage, blocked_from, None), moved(), T1
        )
    assert await task_store.get(task.id) == task


# --- events -------------------------------------------------------------------------


async def test_events_are_one_per_version_oldest_first(task_store: TaskStore) -> None:
    task = await create(task_store)
    for stage in ("development", "review", "testing"):
        task = await to_stage(task_store, task, stage)

    events = await task_store.events(task.id)

    assert [e.version for e in events] == [1, 2, 3, 4]
    assert [e.to_stage for e in events] == ["queued", "development", "review", "testing"]


async def test_events_limit_keeps_the_newest(task_store: TaskStore) -> None:
    task = await create(task_store)
    for stage in ("development", "review", "testing"):
        task = await to_stage(task_store, task, stage)

    assert [e.version for e in await task_store.events(task.id, limit=2)] == [3, 4]


async def test_events_belong_to_their_task(task_store: TaskStore) -> None:
    first = await create(task_store)
    second = await to_stage(task_store, await create(task_store), "development")

    assert [e.key for e in await task_store.events(first.id)] == [first.key]
    assert {e.task_id for e in await task_store.events(second.id)} == {second.id}
