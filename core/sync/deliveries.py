"""Webhook deliveries as the sync takes them, whatever the tracker: a hint to look at an
item sooner, and the bounded memory that drops a delivery seen twice."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WebhookHint:
    """What a verified delivery tells: which item to reconcile sooner, if any."""

    delivery_id: str
    project_id: str | None
    item_id: str | None  # None: the delivery concerns no work item (a project, a cycle)
    what: str  # for the log: "issue updated"


class DeliveryDedup:
    """The most recent delivery ids, bounded: trackers retry a delivery on network errors."""

    def __init__(self, capacity: int = 1024) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._capacity = capacity
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first_time(self, delivery_id: str) -> bool:
        """Record the id; True the first time it is seen (within the last `capacity`)."""
        if delivery_id in self._seen:
            self._seen.move_to_end(delivery_id)
            return False
        self._seen[delivery_id] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._seen)
