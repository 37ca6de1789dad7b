"""The tracker ports: what orch reads from and writes to a tracker, in domain terms.

The value types (WorkItem, TrackerState, ...) and the sync model are in core.tracker;
the Plane adapter is core.integrations.plane.client.PlaneClient.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from core.tracker import DEFAULT_PER_PAGE

if TYPE_CHECKING:
    from core.sync.deliveries import WebhookHint
    from core.tracker import ItemPage, Relations, TrackerProject, TrackerState, WorkItem


class TrackerReader(Protocol):
    """Reads from the tracker. Every method may raise a `core.errors.TrackerError`."""

    @property
    def name(self) -> str:
        """The tracker's name as orch records it (lowercase, e.g. `plane`): the source
        of its tasks and dependencies, the actor of its moves, its webhook path."""
        ...

    async def projects(self) -> list[TrackerProject]:
        """Every project the key can see."""
        ...

    async def states(self, project_id: str) -> list[TrackerState]:
        """Every state of a project, in the tracker's display order."""
        ...

    async def items_page(
        self,
        project_id: str,
        *,
        cursor: str | None = None,
        per_page: int = DEFAULT_PER_PAGE,
        order_by: str = "-updated_at",
    ) -> ItemPage:
        """One page of a project's items; pass the previous page's `next_cursor` on."""
        ...

    async def item(self, project_id: str, item_id: str) -> WorkItem:
        """One item by id or by key (`ORCH-42`); an unknown item is TrackerRejected(404)."""
        ...

    async def relations(self, project_id: str, item_id: str) -> Relations:
        """What blocks the item and what it blocks."""
        ...


class TrackerWriter(Protocol):
    """Writes to the tracker. Both writes are safe to repeat."""

    async def set_state(self, project_id: str, item_id: str, state_id: str) -> None:
        """Move an item to a state. Recognise your own write by the state, not a timestamp."""
        ...

    async def comment(self, project_id: str, item_id: str, html: str, external_id: str) -> str:
        """Post a comment once per `external_id`; a repeat returns the existing comment's id."""
        ...


class Tracker(TrackerReader, TrackerWriter, Protocol):
    """The whole tracker port: the reader for sync, the writer for the pipeline's results."""


class StatesSource(Protocol):
    """Where states come from (the Tracker satisfies it)."""

    async def states(self, project_id: str) -> list[TrackerState]:
        """Every state of a project."""
        ...


class TrackerMeter(Protocol):
    """Request counters of a tracker client (PlaneClient.stats satisfies it)."""

    @property
    def calls(self) -> int:
        """Requests made."""
        ...

    @property
    def rate_limit_waits(self) -> int:
        """Times a rate limit made the client wait."""
        ...

    @property
    def last_error(self) -> str | None:
        """The last failure, in words fit for /queue, if any."""
        ...


class TrackerWebhooks(Protocol):
    """Reads the tracker's webhook deliveries (core.integrations.plane.webhooks.PlaneWebhooks);
    app serves them on POST /hooks/<tracker name>."""

    def read(self, headers: Mapping[str, str], body: bytes) -> WebhookHint:
        """Verify and parse one delivery: UnverifiedDelivery (401) when its signature is
        missing or wrong, InvalidDelivery (400) when it is malformed."""
        ...
