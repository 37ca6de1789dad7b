"""Webhook deliveries as the sync takes them, whatever the tracker: a hint to look at an
item sooner. A delivery seen twice is dropped by the webhook route, which remembers
deliveries in SQLite (core.ports.DeliveryLog) per tracker."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WebhookHint:
    """What a verified delivery tells: which item to reconcile sooner, if any."""

    delivery_id: str
    project_id: str | None
    item_id: str | None  # None: the delivery concerns no work item (a project, a cycle)
    what: str  # for the log: "issue updated"
