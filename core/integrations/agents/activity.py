"""What a running agent's output cannot show: its heartbeat file and its CPU time."""

from __future__ import annotations

import os
from pathlib import Path

from core.clock import Clock
from core.jobs.watch import RunControl


class AgentActivity:
    """Polls what output cannot show: the heartbeat file's changes, and the CPU time of
    the agent's leader and the children it waited for (Linux /proc; sampled, so the
    last poll interval of a run can be missed)."""

    def __init__(self, pid: int, heartbeat: Path, control: RunControl | None) -> None:
        self._pid = pid
        self._heartbeat = heartbeat
        self._control = control
        self._seen: float | None = None
        self.cpu_s: float | None = None

    async def poll(self, clock: Clock, every_s: float) -> None:
        while True:
            self.sample()
            await clock.sleep(every_s)

    def sample(self) -> None:
        self.cpu_s = _cpu_seconds(self._pid) or self.cpu_s
        try:
            mtime = self._heartbeat.stat().st_mtime
        except OSError:
            return
        if mtime != self._seen:
            self._seen = mtime
            if self._control is not None:
                self._control.touch()


def _cpu_seconds(pid: int) -> float | None:
    """The leader's CPU time plus its children's (the guard runs the agent as its child),
    each with what they waited for; None where /proc cannot tell."""
    total = _own_and_waited(pid)
    if total is None:
        return None
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return total + sum(_own_and_waited(int(child)) or 0.0 for child in children)


def _own_and_waited(pid: int) -> float | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    try:  # utime, stime, cutime, cstime: fields 14-17, here 11-14 after the name
        ticks = sum(int(value) for value in fields[11:15])
    except (ValueError, IndexError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK")
