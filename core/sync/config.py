"""How the Plane sync is configured: which projects, which repo each feeds, how stages
map back onto tracker states, and how hard to read.

Most of it comes from Settings; these parts of the ORCH_CONFIG document reach it as
`Settings.plane_options`:

    [plane.repos]          # project identifier → repo (default: identifier lowercased)
    ORCH = "api"

    [plane.writeback]      # stage → logical state key (see [plane.states])
    merge = "in_review"

    [plane]
    start_approved = true  # an item approved in Plane starts work, as the Approve button
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.config import Settings
from core.errors import ConfigError
from core.pipeline.stages import BLOCKED, CANCELLED, DONE, Stage

DEFAULT_STAGE_STATES: Mapping[Stage, str] = {
    "development": "in_progress",
    "review": "in_review",
    "testing": "in_review",
    "merge": "in_review",
    "deploy": "in_progress",
    DONE: "done",
    BLOCKED: "blocked",
    CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class SyncConfig:
    """Everything the reconciler and the write-back are told; frozen like Settings."""

    projects: tuple[str, ...] = ()  # identifiers (or ids); empty: every visible project
    repos: Mapping[str, str] = field(default_factory=dict)
    stage_states: Mapping[Stage, str] = field(default_factory=lambda: dict(DEFAULT_STAGE_STATES))
    start_approved: bool = True
    resync_interval_s: float = 3600.0
    # updated_at moves a moment after a change and offset pages shift while we read:
    # re-read this far below the watermark; (id, updated_at) de-dup makes it cheap.
    overlap_s: float = 120.0
    page_size: int = 100  # incremental reads: changes are few, so one small page
    full_page_size: int = 1000  # full scans: Plane's maximum, fewest requests
    retries_per_tick: int = 20  # failed items retried by a targeted read, at most

    def repo_for(self, identifier: str) -> str:
        """The repo a project's tasks work in."""
        return self.repos.get(identifier) or identifier.lower()

    def follows(self, project_id: str, identifier: str) -> bool:
        return not self.projects or bool({project_id, identifier} & set(self.projects))

    @classmethod
    def from_settings(
        cls, settings: Settings, document: Mapping[str, Any] | None = None
    ) -> SyncConfig:
        """Settings (whose plane_options hold ORCH_CONFIG's [plane] table), or a document."""
        raw = settings.plane_options if document is None else document.get("plane", {})
        plane = _table(raw, "plane")
        stage_states = {**DEFAULT_STAGE_STATES, **_strings(plane.get("writeback"), "writeback")}
        unknown = set(stage_states.values()) - set(settings.plane_state_names)
        if unknown:
            raise ConfigError("ORCH_CONFIG", f"plane.writeback values among "
                              f"{sorted(settings.plane_state_names)}, not {sorted(unknown)}")
        start = plane.get("start_approved", True)
        if not isinstance(start, bool):
            raise ConfigError("ORCH_CONFIG", "plane.start_approved as true or false")
        return cls(
            projects=settings.plane_projects,
            repos=_strings(plane.get("repos"), "repos"),
            stage_states=stage_states,
            start_approved=start,
            resync_interval_s=settings.plane_resync_interval_s,
        )


def _table(raw: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError("ORCH_CONFIG", f"{where} as a table")
    return raw


def _strings(raw: Any, where: str) -> dict[str, str]:
    if raw is None:
        return {}
    table = _table(raw, f"plane.{where}")
    if not all(isinstance(value, str) and value for value in table.values()):
        raise ConfigError("ORCH_CONFIG", f"plane.{where} values as non-empty strings")
    return {str(key): str(value) for key, value in table.items()}
