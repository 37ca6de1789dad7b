"""What the sync tells people about itself beyond its counters: lost access, a pause
for the rate limit, projects paused for a person, items missing in the tracker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.sync.records import ItemRecord
from core.sync.vanish import Pause


@dataclass
class SyncHealth:
    """Conditions that stop the sync, as last seen; each clears when it passes."""

    access_lost: str | None = None  # 401/403, or no project visible: never "deleted"
    rate_paused_until: datetime | None = None  # a Retry-After past the cap
    rate_paused_for_s: float = 0.0


def health_lines(health: SyncHealth, now: datetime, pauses: list[Pause],
                 missing: list[ItemRecord], tracker: str) -> list[str]:
    """The /queue lines; empty when all is well."""
    lines = []
    if health.access_lost:
        lines.append(f"⚠️ orch lost access to {tracker}: {health.access_lost} — nothing is "
                     f"cancelled for it")
    until = health.rate_paused_until
    if until is not None and until > now:
        lines.append(f"⏸ {tracker} asked to wait {health.rate_paused_for_s:g} s: sync paused "
                     f"until {until:%H:%M:%S}")
    for pause in pauses:
        lines.append(f"⏸ {pause.identifier} sync paused: {pause.missing} of {pause.followed} "
                     f"items vanished at once — waiting for a person to confirm")
    if missing:
        keys = ", ".join(r.key for r in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        lines.append(f"missing in {tracker}: {keys}{more}")
    return lines


def missing_note(record: ItemRecord | None, tracker: str) -> str | None:
    """The card's line for a task whose item seems gone."""
    if record is None or record.missing_since is None:
        return None
    return (f"⚠️ missing in {tracker} since {record.missing_since:%H:%M} — not cancelled "
            f"until confirmed")
