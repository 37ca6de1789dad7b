"""Which stages a task really finished, read from its audit trail.

A card shows a finished or cancelled task's progress from this, not from where the task
ended: an item closed in the tracker while in development went straight to `done` and
finished no stage, so its card must not tick them all.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.pipeline.stages import Pipeline, Stage
from core.pipeline.tasks import TaskEvent


def finished_stages(events: Iterable[TaskEvent], pipeline: Pipeline) -> frozenset[Stage]:
    """Every active stage the task left forward, to the next stage in order.

    Closing a task from the last stage reads as finishing it: the trail cannot tell.
    """
    return frozenset(
        event.from_stage for event in events
        if event.from_stage in pipeline.active and event.from_stage != pipeline.order[0]
        and event.to_stage == pipeline.next_stage(event.from_stage))
