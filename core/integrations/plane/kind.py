"""Plane as a kind of tracker: what app/trackers.py registers."""

from __future__ import annotations

from core.clock import Clock
from core.config import Settings
from core.integrations.plane.client import NAME, PlaneClient
from core.integrations.plane.config import PlaneAccess
from core.integrations.plane.http import HttpRetryPolicy
from core.integrations.plane.webhooks import PlaneWebhooks
from core.ratebudget import RateBudget
from core.sync.config import SyncConfig
from core.sync.kind import TrackerConnection, TrackerKind


def configured(settings: Settings) -> bool:
    """True when orch has what it needs to talk to Plane."""
    return bool(settings.plane_api_url and settings.plane_api_token
                and settings.plane_workspace_slug)


def connect(settings: Settings, clock: Clock) -> TrackerConnection:
    """The Plane client orch runs with, its one budget, webhooks and sync settings."""
    config = SyncConfig.from_settings(settings)
    # one budget per API key, a margin below Plane's own limit
    budget = RateBudget(clock, settings.plane_rate_limit_per_min, margin=config.rate_margin)
    client = PlaneClient.from_config(PlaneAccess.from_settings(settings), clock, budget,
                                     HttpRetryPolicy(max_retry_after_s=config.max_retry_after_s))
    return TrackerConnection(
        client=client, meter=client.stats, budget=budget,
        webhooks=PlaneWebhooks(settings.plane_webhook_secret),
        state_names=settings.plane_state_names, states_ttl_s=settings.plane_states_ttl_s,
        config=config, close=client.aclose)


PLANE = TrackerKind(NAME, configured, connect)
