"""Who changed a work item, by name: Plane's `updated_by` is a user id.

The workspace's members are read once, and again when an id nobody knows shows up (at
most every `REFRESH_S`, so a stranger's edits cost one request per ten minutes, not one
per page). The API key's own user is nobody: orch's own writes are not a person's move.
A member list Plane will not give (a key without the right, an outage) leaves moves
without a name; it never fails a sync.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from core.clock import Clock
from core.errors import TrackerError
from core.integrations.plane.http import PlaneHttp

log = logging.getLogger(__name__)

REFRESH_S = 600.0


class PlaneMembers:
    """Member ids to the names people know each other by."""

    def __init__(self, http: PlaneHttp, clock: Clock) -> None:
        self._http = http
        self._clock = clock
        self._names: dict[str, str] = {}
        self._me: str | None = None
        self._read_at: datetime | None = None

    async def name_of(self, user_id: Any) -> str:
        """The member's name; "" for orch itself, nobody, or someone Plane does not name."""
        if not isinstance(user_id, str) or not user_id:
            return ""
        if user_id not in self._names and user_id != self._me and self._due():
            await self._read()
        return "" if user_id == self._me else self._names.get(user_id, "")

    def _due(self) -> bool:
        return self._read_at is None or (
            self._clock.now() - self._read_at).total_seconds() >= REFRESH_S

    async def _read(self) -> None:
        self._read_at = self._clock.now()
        try:
            me = (await self._http.send("GET", f"{self._http.api_root}users/me/")).body
            members = (await self._http.send("GET", "members/")).body
        except TrackerError as exc:
            log.info("Plane's members are not readable (%s): moves are shown without a name",
                     exc)
            return
        if isinstance(me, dict) and isinstance(me.get("id"), str):
            self._me = me["id"]
        rows = members if isinstance(members, list) else []
        self._names = {row["id"]: name for row in rows
                       if isinstance(row, dict) and isinstance(row.get("id"), str)
                       and (name := person_name(row))}


def person_name(member: dict[str, Any]) -> str:
    """First name as people call each other ("Lena"), else the display name."""
    for field in ("first_name", "display_name"):
        value = member.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""
