"""The ORCH_CONFIG file, reloaded while orch runs.

`ConfigReloader.check()`, called every few seconds by the runtime's pacer, reads the
file; when its content changed it builds the settings it describes on the settings orch
was started with (everything the file may set back at its default first, so a removed
table is removed), runs the same checks as start-up, and then either applies them or
refuses them:

- applied (one log line): agents (commands, timeouts, stall timeouts), the per-stage
  and per-role concurrency, the budget, and each stage's role, gates and rollback
  target. They count from the next claim, the next run and the next gate on; runs in
  flight go on as they started.
- refused (one log line and one alert in the group, once per content): a file that does
  not read or check, or one that changes what only a restart can (the list of stages,
  repos, Plane or forge options). The last good configuration stays in force.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import MISSING, fields, replace
from pathlib import Path
from typing import Any

from core.config import Settings
from core.errors import ConfigError

log = logging.getLogger(__name__)

# What a reload may change; anything else the file sets needs a restart.
RELOADABLE = ("agents", "pipeline", "stage_concurrency", "role_concurrency",
              "budget_tokens", "budget_cost")
RESTART_ONLY = ("repo_remotes", "plane_options", "plane_state_names", "forge_repos")


class ConfigReloader:
    """Watches one ORCH_CONFIG file; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        apply: Callable[[Settings], None],
        alert: Callable[[str], None],
        validate: Callable[[Settings], None],
        interval_s: float = 5.0,
    ) -> None:
        self.settings = settings  # the configuration in force
        self._path = Path(settings.config_path)
        self._apply = apply
        self._alert = alert
        self._validate = validate
        self.interval_s = interval_s  # how often the runtime's pacer calls check()
        self._seen = self._fingerprint()
        self.applied_total = 0
        self.refused_total = 0

    def check(self) -> str:
        """'unchanged', 'applied' or 'refused' for the file as it is now."""
        seen = self._fingerprint()
        if seen == self._seen:
            return "unchanged"
        self._seen = seen
        try:
            candidate = self._read()
            self._validate(candidate)
            self._refuse_restart_only(candidate)
        except ConfigError as exc:
            return self._refused(str(exc))
        self.settings = candidate
        self._apply(candidate)
        self.applied_total += 1
        log.info("%s reloaded: agents, limits, budget and gates as it now says", self._path)
        return "applied"

    def _read(self) -> Settings:
        defaults: dict[str, Any] = {f.name: _default(f.name) for f in fields(Settings)
                                    if f.name in RELOADABLE + RESTART_ONLY}
        base = replace(self.settings, **defaults)
        return base.with_file(self._path)

    def _refuse_restart_only(self, candidate: Settings) -> None:
        before, after = self.settings.pipeline, candidate.pipeline
        if before.order != after.order:
            raise ConfigError("ORCH_CONFIG", "the same stages as at start-up (a change to the "
                                             "list of stages needs a restart)")
        changed = [name for name in RESTART_ONLY
                   if getattr(candidate, name) != getattr(self.settings, name)]
        if changed:
            raise ConfigError("ORCH_CONFIG", f"no change to {', '.join(changed)} (those "
                                             f"need a restart)")

    def _refused(self, why: str) -> str:
        self.refused_total += 1
        log.warning("%s changed but was refused, the running configuration stays: %s",
                    self._path, why)
        self._alert(f"⚙️ The change to {self._path.name} was refused; orch keeps running "
                    f"with the configuration it had. {why}")
        return "refused"

    def _fingerprint(self) -> str | None:
        try:
            return hashlib.sha256(self._path.read_bytes()).hexdigest()
        except OSError:
            return None


def _default(name: str) -> Any:  # any field's type: replace() checks them per field
    item = next(f for f in fields(Settings) if f.name == name)
    return item.default_factory() if item.default_factory is not MISSING else item.default
