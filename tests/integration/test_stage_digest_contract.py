"""The /queue digest of open tasks, the same from the in-memory store and from SQLite:
counts per stage, and the oldest of each stage by time in it, done and cancelled left out."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from core.ports import OpenTasks, TaskStore
from tests.integration.test_task_store_contract import T0, create, to_stage


async def test_counts_per_stage_and_the_oldest_of_each(task_store: TaskStore) -> None:
    made = [await create(task_store, T0 + timedelta(minutes=n), key=f"ORCH-{n}",
                         tracker_id=None) for n in range(1, 8)]
    # entered in this order: 3 and 4 long ago, 5 later, 6 done, 7 cancelled
    for task, stage, minutes in ((made[2], "development", 20), (made[3], "development", 10),
                                 (made[4], "development", 30), (made[5], "done", 40),
                                 (made[6], "cancelled", 50)):
        await to_stage(task_store, task, stage, T0 + timedelta(minutes=minutes))

    counts, oldest = await cast(OpenTasks, task_store).stage_digest(2)

    assert counts == {"queued": 2, "development": 3}
    assert [t.key for t in oldest] == ["ORCH-1", "ORCH-2", "ORCH-4", "ORCH-3"]
