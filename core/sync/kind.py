"""What a tracker adapter hands the app: its name, whether it is configured, and how to
connect. Each adapter folder (core/integrations/<tracker>/kind.py) defines one
TrackerKind; app/trackers.py registers them. Nothing else in orch names a tracker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.config import Settings
    from core.ports import Clock, Tracker, TrackerMeter, TrackerWebhooks
    from core.ratebudget import RateBudget
    from core.sync.config import SyncConfig


@dataclass(frozen=True, slots=True)
class TrackerConnection:
    """One configured tracker, ready for the sync: the client and what comes with it."""

    client: Tracker
    meter: TrackerMeter
    budget: RateBudget  # one per API key: every client of the key shares it
    webhooks: TrackerWebhooks
    state_names: Mapping[str, str]  # logical state → the tracker's state name
    states_ttl_s: float
    config: SyncConfig
    close: Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class TrackerKind:
    """A kind of tracker orch can sync with; `name` is what orch records (lowercase)."""

    name: str
    configured: Callable[[Settings], bool]
    connect: Callable[[Settings, Clock], TrackerConnection]
