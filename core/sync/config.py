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
    missing_confirm_after_min = 30  # two full resyncs this far apart confirm a deletion
    mass_missing_share = 0.5  # more than this share of a project gone at once: pause
    mass_missing_min = 3      # ... and at least this many items
    cancelled_releases = true # a blocker cancelled in the tracker releases its dependents
    rate_margin = 0.1         # share of the tracker's rate limit orch leaves unused
    max_retry_after_s = 120   # a longer Retry-After pauses the sync instead of waiting
    max_pages = 200           # a listing longer than this is broken: the tick ends
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.config import Settings
from core.errors import ConfigError
from core.pipeline.stages import BLOCKED, CANCELLED, DONE, Stage
from core.sync.vanish import VanishPolicy
from core.tracker import TrackerProject

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
    bulk_pages: int = 3  # large pages an incremental walk reads before it becomes a full scan
    max_pages: int = 200  # a listing longer than this is broken
    vanish: VanishPolicy = field(default_factory=VanishPolicy)
    cancelled_releases: bool = True  # a cancelled blocker releases its dependents
    rate_margin: float = 0.1
    max_retry_after_s: float = 120.0
    tick_budget_s: float = 120.0  # a walk past this finishes its page and yields

    def repo_for(self, identifier: str) -> str:
        """The repo a project's tasks work in."""
        return self.repos.get(identifier) or identifier.lower()

    def follows(self, project_id: str, identifier: str) -> bool:
        return not self.projects or bool({project_id, identifier} & set(self.projects))

    def check_key_prefix(self, prefix: str, projects: Iterable[TrackerProject],
                         tracker: str = "plane") -> None:
        """`/new` keys and tracker keys never share a namespace: ConfigError (exit 2) when
        the task key prefix is a followed project's identifier."""
        for project in projects:
            if project.identifier.upper() == prefix.upper() and self.follows(
                    project.id, project.identifier):
                raise ConfigError("ORCH_TASK_KEY_PREFIX", (
                    f"a prefix other than {prefix}: {tracker.capitalize()} project "
                    f"{project.identifier} is followed and its keys are "
                    f"{project.identifier}-N"))

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
        return cls(
            projects=settings.plane_projects,
            repos=_strings(plane.get("repos"), "repos"),
            stage_states=stage_states,
            start_approved=_flag(plane, "start_approved", True),
            resync_interval_s=settings.plane_resync_interval_s,
            tick_budget_s=settings.reconcile_interval_s or 120.0,
            vanish=VanishPolicy(
                confirm_after_s=60 * _number(plane, "missing_confirm_after_min", 30, 0, 1e6),
                mass_share=_number(plane, "mass_missing_share", 0.5, 0, 1),
                mass_min=int(_number(plane, "mass_missing_min", 3, 1, 1e6)),
            ),
            cancelled_releases=_flag(plane, "cancelled_releases", True),
            rate_margin=_number(plane, "rate_margin", 0.1, 0, 0.9),
            max_retry_after_s=_number(plane, "max_retry_after_s", 120, 0, 86400),
            max_pages=int(_number(plane, "max_pages", 200, 1, 1e6)),
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


def _flag(plane: Mapping[str, Any], name: str, default: bool) -> bool:
    value = plane.get(name, default)
    if not isinstance(value, bool):
        raise ConfigError("ORCH_CONFIG", f"plane.{name} as true or false")
    return value


def _number(plane: Mapping[str, Any], name: str, default: float, low: float,
            high: float) -> float:
    value = plane.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError("ORCH_CONFIG", f"plane.{name} as a number from {low:g} to {high:g}")
    return float(value)
