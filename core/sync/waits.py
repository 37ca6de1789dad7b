"""Why a task waits on the tracker: its item seems gone, or its project's sync is paused
until a person confirms a mass disappearance (core.sync.vanish).

A WaitExplainer for /queue and the cards. What it reads moves only with a write to the
missing marks or the pauses, which bumps the 'tracker' revision (0013), so it is wired
with `watches=("tracker",)`. Two reads per ask, plus one per open pause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from core.pipeline.tasks import Task

if TYPE_CHECKING:
    from core.ports import PauseStore, SyncStore


class TrackerWaits:
    """WaitExplainer: "missing in <Tracker> since …" or "<Tracker> sync paused for …"."""

    def __init__(self, store: SyncStore, pauses: PauseStore, tracker: str) -> None:
        self._store = store
        self._pauses = pauses
        self._name = tracker.capitalize()  # the adapter's name, as people read it

    async def waits(self, tasks: Sequence[Task]) -> Mapping[int, str]:
        by_item = {task.tracker_id: task.id for task in tasks if task.tracker_id}
        if not by_item:
            return {}
        found: dict[int, str] = {}
        for record in await self._store.missing():
            task_id = by_item.get(record.item_id)
            if task_id is not None and record.missing_since is not None:
                found[task_id] = (f"missing in {self._name} since "
                                  f"{record.missing_since:%H:%M} (not cancelled; confirmed "
                                  f"after two full resyncs)")
        # a pause says more: nothing of that project is cancelled until a person confirms
        for pause in await self._pauses.open_pauses():
            for item_id in await self._store.records(pause.project_id):
                task_id = by_item.get(item_id)
                if task_id is not None:
                    found[task_id] = (f"{self._name} sync paused for project "
                                      f"{pause.identifier}: waiting for a person to confirm")
        return found
