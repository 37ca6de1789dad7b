"""Per-project state lookup: logical key → state id, state id → group, from one fetch.

Plane states are named freely per project; orch speaks of logical states (`approved`,
`in_progress`, …) mapped to names by configuration. Groups are Plane's fixed
classification and are what tells a finished item from an actionable one, whatever
its state is called.

Freshness rules: an entry is refetched after `ttl_s` (0 keeps it for the process
lifetime) so a state added in Plane shows up without a restart; a failed refetch keeps
serving the last good set (it is stale but belongs to this project); the configured
defaults are served only while nothing was ever fetched for the project.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from core.clock import Clock
from core.errors import TrackerError
from core.ports import StatesSource
from core.tracker import StateGroup, TrackerState

log = logging.getLogger("orch.states")

DEFAULT_TTL_S = 300.0
RETRY_AFTER_FAILURE_S = 30.0  # a failed refresh is not retried on every call


@dataclass(frozen=True, slots=True)
class ProjectStates:
    """One project's states as orch uses them. `fetched` is False for the defaults."""

    ids: Mapping[str, str]  # logical key → state id
    groups: Mapping[str, StateGroup]  # state id → group
    names: Mapping[str, str] = field(default_factory=dict)  # state id → name
    fetched: bool = True

    def id_for(self, logical: str) -> str | None:
        return self.ids.get(logical)

    def group_of(self, state_id: str) -> StateGroup | None:
        return self.groups.get(state_id)

    def logical_of(self, state_id: str) -> str | None:
        return next((key for key, sid in self.ids.items() if sid == state_id), None)


@dataclass(frozen=True, slots=True)
class MissingState:
    """A configured state name that a project does not have."""

    project_id: str
    logical: str
    name: str


@dataclass(slots=True)
class _Entry:
    states: ProjectStates
    refresh_at: datetime | None  # None: never (TTL 0)


class StatesCache:
    """Cached states per project. `get()` refreshes when due; lookups never fetch."""

    def __init__(
        self,
        source: StatesSource,
        clock: Clock,
        *,
        names: Mapping[str, str],
        ttl_s: float = DEFAULT_TTL_S,
        defaults: Mapping[str, str] | None = None,
    ) -> None:
        self._source = source
        self._clock = clock
        self._names = dict(names)
        self._ttl_s = ttl_s
        self._defaults = ProjectStates(
            ids=MappingProxyType(dict(defaults or {})), groups=MappingProxyType({}), fetched=False
        )
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._missing: dict[str, list[MissingState]] = {}
        self._reported: set[MissingState] = set()
        self.refresh_failures = 0

    async def get(self, project_id: str) -> ProjectStates:
        """The project's states, fetched if absent or due; never raises TrackerError."""
        entry = self._entries.get(project_id)
        if entry is not None and not self._due(entry):
            return entry.states
        async with self._locks.setdefault(project_id, asyncio.Lock()):
            entry = self._entries.get(project_id)
            if entry is not None and not self._due(entry):
                return entry.states  # another caller refreshed while we waited
            return await self._refresh(project_id, entry)

    async def reload(self, project_id: str | None = None) -> None:
        """Fetch one project's states (or every cached project's) now, TTL or not.
        A failed reload keeps the last good set, like any failed refresh."""
        targets = [project_id] if project_id is not None else list(self._entries)
        for target in targets:
            if (entry := self._entries.get(target)) is not None:
                entry.refresh_at = self._clock.now()
            await self.get(target)

    def group_of(self, state_id: str) -> StateGroup | None:
        """The group of a state of any fetched project; None when unknown."""
        for entry in self._entries.values():
            if (group := entry.states.group_of(state_id)) is not None:
                return group
        return None

    def logical_of(self, state_id: str) -> str | None:
        """The logical key a state id stands for in any fetched project (or the defaults)."""
        for states in [*(e.states for e in self._entries.values()), self._defaults]:
            if (logical := states.logical_of(state_id)) is not None:
                return logical
        return None

    def missing_names(self) -> list[MissingState]:
        """Configured names absent from a project, as of its last fetch (for `orch doctor`)."""
        return [missing for found in self._missing.values() for missing in found]

    def _due(self, entry: _Entry) -> bool:
        return entry.refresh_at is not None and self._clock.now() >= entry.refresh_at

    async def _refresh(self, project_id: str, entry: _Entry | None) -> ProjectStates:
        try:
            fetched = await self._source.states(project_id)
        except TrackerError as exc:
            self.refresh_failures += 1
            if entry is None:
                log.warning("states of %s unavailable (%s); using defaults", project_id, exc)
                return self._defaults  # not cached: the next call tries again
            log.warning("states of %s not refreshed (%s); keeping the last set", project_id, exc)
            entry.refresh_at = self._later(RETRY_AFTER_FAILURE_S)
            return entry.states
        states = self._index(project_id, fetched)
        self._entries[project_id] = _Entry(states, self._later(self._ttl_s))
        return states

    def _later(self, seconds: float) -> datetime | None:
        if self._ttl_s == 0:
            return None
        return self._clock.now() + timedelta(seconds=min(seconds, self._ttl_s))

    def _index(self, project_id: str, fetched: list[TrackerState]) -> ProjectStates:
        by_name = {state.name.strip().casefold(): state.id for state in fetched}
        ids: dict[str, str] = {}
        missing: list[MissingState] = []
        for logical, name in self._names.items():
            state_id = by_name.get(name.strip().casefold())
            if state_id is None:
                missing.append(MissingState(project_id, logical, name))
            else:
                ids[logical] = state_id
        self._note_missing(project_id, missing)
        return ProjectStates(
            ids=MappingProxyType(ids),
            groups=MappingProxyType({state.id: state.group for state in fetched}),
            names=MappingProxyType({state.id: state.name for state in fetched}),
        )

    def _note_missing(self, project_id: str, missing: list[MissingState]) -> None:
        self._missing[project_id] = missing
        for item in missing:
            if item not in self._reported:  # once per process, not once per refresh
                self._reported.add(item)
                log.warning(
                    "project %s has no state named %r (for %r)", project_id, item.name, item.logical
                )
