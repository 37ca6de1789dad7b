"""Process groups of agents: how the runner starts one guarded, and how a later orch kills
one that a dead orch left behind.

A group is identified by its leader's pid (the guard's) and the leader's start time, so a
pid that the system has since given to an unrelated process is never signalled. While
any member of a group is alive its id cannot be reused as a pid, so a group whose leader
is gone but whose members live on is still certainly ours.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from core.ports import OpenProcesses

log = logging.getLogger(__name__)

GUARD = Path(__file__).with_name("guard.py")


def guarded(argv: Sequence[str]) -> list[str]:
    """The command line that runs `argv` under the guard, watching this process."""
    return [sys.executable, "-I", "-S", str(GUARD), str(os.getpid()), "--", *argv]


def start_ticks(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot, Linux); None if gone or unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


def kill_group(pgid: int, started: int | None) -> bool:
    """SIGKILL the group led by `pgid` if it is still the one recorded; True if signalled.

    `started` is the leader's start time as recorded when the group began.
    """
    if pgid <= 1:
        return False
    leader_started = start_ticks(pgid)
    if leader_started is not None and started is not None and leader_started != started:
        return False  # the pid now belongs to another process: not our group any more
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False  # gone already (macOS answers EPERM for a group of zombies)
    return True


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Signal a group the runner owns right now; a group already gone is fine."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class OrphanReaper:
    """The job loop's Reaper: kills recorded groups of abandoned runs on this host."""

    def __init__(self, records: OpenProcesses, host: str | None = None) -> None:
        self._records = records
        self._host = host or socket.gethostname()

    async def reap(self, *, owner: str, cutoff: datetime, dead_owners: Sequence[str]) -> int:
        found = await self._records.abandoned_processes(
            owner=owner, cutoff=cutoff, dead_owners=dead_owners)
        killed = 0
        for run_id, run_owner, process in found:
            if run_owner.partition(":")[0] != self._host:
                continue  # another machine's process: its guard saw its orch die
            if kill_group(process.group, process.started):
                log.warning("run %s: killed its agent's process group %s, left running by "
                            "%s", run_id, process.group, run_owner)
                killed += 1
        return killed
