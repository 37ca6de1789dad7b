"""The trackers orch can sync with: the one registration a new tracker adapter adds.

A tracker adapter lives in its own folder, core/integrations/<name>/ (client, parsing,
webhooks), and exports a `TrackerKind` from its kind.py; list it here. The first kind
whose settings are complete is the one orch runs with.
"""

from __future__ import annotations

from core.config import Settings
from core.integrations.plane.kind import PLANE
from core.sync.kind import TrackerKind

TRACKERS: tuple[TrackerKind, ...] = (PLANE,)


def configured_tracker(settings: Settings,
                       kinds: tuple[TrackerKind, ...] = TRACKERS) -> TrackerKind | None:
    """The tracker the settings configure, or None: tasks then come only from the chat."""
    return next((kind for kind in kinds if kind.configured(settings)), None)
