"""The agent ports: who runs an agent, where it works, and what is kept of its processes
so that none outlives the orch that started it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from core.config import AgentCommand
    from core.jobs.agents import AgentProcess, AgentRequest, AgentResult
    from core.pipeline.tasks import Task


class AgentRunner(Protocol):
    """Runs one agent command for one request and reports how it went
    (core.integrations.agents.runner.SubprocessAgentRunner).

    Implementations never raise for the agent's own failures (a missing executable, a
    non-zero exit, a timeout, a malformed result file): those come back as an
    AgentResult. They always enforce `command.timeout_s`, and when the awaiting task is
    cancelled they stop the agent's whole process tree before re-raising. With a
    `request.control`, they report activity to it (`touch()`: output, or the heartbeat
    file named by ORCH_HEARTBEAT_FILE changing) and, when it asks to stop, stop the
    process tree and return CANCELLED (or TRANSIENT when the stop is transient) with
    its reason, never reading the result file.
    """

    async def run(self, request: AgentRequest, command: AgentCommand) -> AgentResult:
        """Run `command` for `request` in `request.worktree` and return the outcome."""
        ...


class Worktrees(Protocol):
    """Where a task's agent works (core.integrations.git.worktrees.GitWorktrees)."""

    async def prepare(self, task: Task) -> Path:
        """The task's git worktree on its branch, made if missing."""
        ...


class ProcessLedger(Protocol):
    """Where a runner records the process group of a run as soon as it exists
    (storage.jobs.SqliteJobStore)."""

    async def record_process(self, run_id: int, process: AgentProcess) -> None:
        """Remember the run's process group; a run already closed is left as it is."""
        ...


class OpenProcesses(Protocol):
    """The process groups recorded for open runs (storage.jobs.SqliteJobStore)."""

    async def abandoned_processes(
        self, *, owner: str, cutoff: datetime, dead_owners: Sequence[str]
    ) -> Sequence[tuple[int, str, AgentProcess]]:
        """(run id, run owner, process) of each open run that `sweep_stale` with the
        same arguments would fail, for runs with a recorded process group."""
        ...


class Reaper(Protocol):
    """Kills what dead orchs left running (core.integrations.agents.processes)."""

    async def reap(self, *, owner: str, cutoff: datetime, dead_owners: Sequence[str]) -> int:
        """Kill the live process groups of the open runs that a sweep with the same
        arguments fails; how many groups were signalled."""
        ...
