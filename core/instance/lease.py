"""One orch per database: a lease row that the holder keeps alive with a heartbeat.

The holder id is `host:pid:token` (the job loop's owner id). A lease is free when it has
expired, when it is this very holder's, or when its holder is known to be dead: on this
host with its process gone, or this process itself (an earlier instance in the same pid
namespace, e.g. a restarted container's pid 1). A dead holder therefore never keeps a
database, and a restart right after a crash takes over at once; a holder on another
host is only ever outlived by its expiry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.clock import Clock, utc_iso
from core.errors import OrchError
from core.ports import LeaseStore

log = logging.getLogger(__name__)

LEASE_TTL_S = 60.0
HEARTBEAT_EVERY_S = 15.0


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """Who holds the database, and since when."""

    holder: str
    host: str
    pid: int
    since: datetime
    expires_at: datetime

    def describe(self) -> str:
        return f"host {self.host}, pid {self.pid}, since {utc_iso(self.since)}"


class LeaseHeld(OrchError):
    """Another live orch holds the database."""

    def __init__(self, db_path: str, holder: LeaseHolder) -> None:
        super().__init__(
            f"the database {db_path} is held by another orch ({holder.describe()}); "
            f"stop that one first, or give this one its own ORCH_DB_PATH")
        self.holder = holder


class LeaseLost(OrchError):
    """The lease was taken over while this orch believed it held it."""


class InstanceLease:
    """Takes, keeps and gives back the database's lease for one orch process."""

    def __init__(self, store: LeaseStore, clock: Clock, *, holder: str, host: str, pid: int,
                 db_path: str, is_alive: Callable[[str], bool],
                 ttl_s: float = LEASE_TTL_S, every_s: float = HEARTBEAT_EVERY_S) -> None:
        self._store = store
        self._clock = clock
        self.holder = holder
        self._host, self._pid = host, pid
        self._db_path = db_path
        self._is_alive = is_alive
        self._ttl = timedelta(seconds=ttl_s)
        self._every = every_s

    async def acquire(self) -> None:
        """Hold the lease or raise LeaseHeld naming the live holder."""
        now = self._clock.now()
        current = await self._store.current()
        replacing = None
        if current is not None and current.holder != self.holder and current.expires_at > now:
            if self._is_alive(current.holder):
                raise LeaseHeld(self._db_path, current)
            replacing = current.holder
            log.warning("taking over the database from a dead orch (%s)", current.describe())
        me = LeaseHolder(self.holder, self._host, self._pid, now, now + self._ttl)
        if not await self._store.take(me, now, replacing):
            taken = await self._store.current()
            raise LeaseHeld(self._db_path, taken or current or me)

    async def keep(self) -> None:
        """Heartbeat until cancelled; raises LeaseLost if another orch took the lease.
        A beat the database fails (busy, say) is tried again at the next one: only a
        lease held by someone else ends this orch."""
        while True:
            await self._clock.sleep(self._every)
            now = self._clock.now()
            try:
                renewed = await self._store.renew(self.holder, now, now + self._ttl)
            except OrchError as exc:
                log.warning("could not renew the database lease (%s); trying again", exc)
                continue
            if not renewed:
                holder = await self._store.current()
                raise LeaseLost("another orch took over the database"
                                + (f" ({holder.describe()})" if holder else ""))

    async def release(self) -> None:
        await self._store.release(self.holder)
