"""The instance port: the lease that makes one orch the only one on a database."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.instance.lease import LeaseHolder


class LeaseStore(Protocol):
    """The database's lease row (storage.instance.SqliteLeaseStore)."""

    async def current(self) -> LeaseHolder | None:
        """Who holds the lease, expired or not; None when nobody ever took it (or it was
        released)."""
        ...

    async def take(self, me: LeaseHolder, at: datetime, replacing: str | None) -> bool:
        """Become the holder if the lease is free at `at`, mine, or held by `replacing`
        (a holder found dead); one compare-and-set. False when someone else holds it."""
        ...

    async def renew(self, holder: str, at: datetime, expires_at: datetime) -> bool:
        """Heartbeat; False when `holder` no longer holds the lease."""
        ...

    async def release(self, holder: str) -> None:
        """Give the lease up, if `holder` still holds it."""
        ...
