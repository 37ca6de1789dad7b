"""The real AgentRunner: a role's command run as a subprocess in the task's worktree.

Each run has three files side by side: the log (`run-7.log`, stdout and stderr merged,
capped), the prompt (`run-7.prompt.md`) and the result the agent may write
(`run-7.result.json`). The command is a template, never a shell line: `{prompt_file}`,
`{result_file}`, `{worktree}`, `{task_key}`, `{stage}`, `{role}` and `{python}` (this
interpreter) are substituted inside each argument, anything else in braces is left as is.

The command runs under a small guard (processes.guarded) that leads its own process
group and kills that whole group if orch dies; the group is recorded with the run, so a
later orch can kill it too. Stopping a run stops everything it started: SIGTERM, a grace
period, then SIGKILL. That happens on timeout, when the awaiting task is cancelled, and
(SIGKILL only) to anything left over after a normal exit; also when orch asks the run
to stop through its `RunControl` (the task moved, or the agent stalled), and then the
result file is not read. Every chunk of output and every change of the heartbeat file
(`run-7.heartbeat`, named by ORCH_HEARTBEAT_FILE) counts as activity. The exit decides the outcome,
not the end of the output: a background child still holding the pipe is killed with the
rest of the group. The child's environment is an allow-list (agent_environment) and its
result file is read only up to a cap.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.clock import Clock, SystemClock, utc_iso
from core.config import AgentCommand
from core.integrations.agents.activity import AgentActivity
from core.integrations.agents.files import MAX_ERROR_CHARS, CappedLog, RunFiles
from core.integrations.agents.processes import guarded, signal_group, start_ticks
from core.jobs.agents import (
    HEARTBEAT_FILE_ENV,
    RESULT_FILE_ENV,
    AgentProcess,
    AgentRequest,
    AgentResult,
    RunOutcome,
    outcome_for,
)
from core.jobs.watch import RunControl
from core.ports import ProcessLedger

log = logging.getLogger(__name__)

DEFAULT_RESULT_CAP = 1_000_000
BASE_ENV = frozenset({"PATH", "HOME", "LANG"})
_CHUNK = 64 * 1024
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class SubprocessAgentRunner:
    """Runs agents as local subprocesses: no shell, own process group, always a timeout."""

    def __init__(
        self,
        clock: Clock | None = None,
        log_cap_bytes: int = 1_000_000,
        kill_grace_s: float = 5.0,
        *,
        result_cap_bytes: int = DEFAULT_RESULT_CAP,
        env_names: Iterable[str] = (),
        ledger: ProcessLedger | None = None,
        base_env: Mapping[str, str] | None = None,
        activity_poll_s: float = 1.0,
    ) -> None:
        self._clock = clock or SystemClock()
        self._log_cap = log_cap_bytes
        self._grace = kill_grace_s
        self._result_cap = result_cap_bytes
        self._env_names = frozenset(env_names)
        self._ledger = ledger
        self._base_env = os.environ if base_env is None else base_env
        self._poll_s = activity_poll_s
        # Stops still running after a second cancellation; kept so they are not collected.
        self._stopping: set[asyncio.Task[None]] = set()

    async def run(self, request: AgentRequest, command: AgentCommand) -> AgentResult:
        """Run `command` for `request`; see AgentRunner. Re-raises CancelledError after
        the process tree is stopped."""
        files = RunFiles.beside(request.log_path)
        argv = render_command(command.command, placeholder_values(request, files))
        started = time.monotonic()
        try:
            files.prepare(request.prompt)
            log = CappedLog(request.log_path, self._log_cap, request.control)
        except OSError as exc:
            return _unstarted(request, f"cannot prepare the run's files: {exc}")
        with log:
            log.note(self._header(request, argv))
            ended = await self._execute(argv, request, files, command, log)
            tail = log.tail_text()
        # a stopped run's result is not read: nothing it did after the stop may count
        structured, note, oversize = (files.read_result(self._result_cap)
                                      if ended.stopped is None else ({}, None, False))
        outcome = RunOutcome.FAILED if oversize else ended.outcome(command)
        head = note if oversize else ended.describe(outcome)
        return AgentResult(
            outcome=outcome,
            exit_code=ended.exit_code,
            duration_s=time.monotonic() - started,
            error=_error_text(head, tail, None if oversize else note),
            log_path=request.log_path,
            structured=structured,
            timed_out=ended.timed_out,
            cpu_s=ended.cpu_s,
        )

    async def _execute(
        self,
        argv: Sequence[str],
        request: AgentRequest,
        files: RunFiles,
        command: AgentCommand,
        log: CappedLog,
    ) -> _Ended:
        names = self._env_names | set(command.env)
        env = agent_environment(request, files, self._base_env, names)
        problem = _cannot_start(argv, request.worktree, env.get("PATH", os.defpath))
        if problem:
            return _Ended(None, False, problem, 0.0)
        control = request.control
        if control is not None and control.stopping:
            return _Ended(None, False, None, 0.0, stopped=control)
        try:
            transport, agent = await asyncio.get_running_loop().subprocess_exec(
                lambda: _AgentPipes(log),
                *guarded(argv),
                cwd=request.worktree,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            return _Ended(None, False, f"cannot start {argv[0]!r}: {exc.strerror or exc}", 0.0)
        watcher = AgentActivity(transport.get_pid(), files.heartbeat, control)
        poll = asyncio.create_task(watcher.poll(self._clock, self._poll_s))
        try:
            timed_out, stopped = await self._supervise(transport, agent, request,
                                                       command.timeout_s)
        finally:
            transport.close()
            poll.cancel()
            await asyncio.gather(poll, return_exceptions=True)
        return _Ended(transport.get_returncode(), timed_out, None, command.timeout_s,
                      stopped=control if stopped else None, cpu_s=watcher.cpu_s)

    async def _supervise(
        self,
        transport: asyncio.SubprocessTransport,
        agent: _AgentPipes,
        request: AgentRequest,
        timeout_s: float,
    ) -> tuple[bool, bool]:
        """Wait for the agent to exit within its timeout, or until orch asks it to stop:
        (stopped for the timeout, stopped on request). The exit decides: output still
        held open by something it left behind does not."""
        group = transport.get_pid()
        control = request.control
        try:
            await self._record(request.run_id, group)
            asked = await asyncio.wait_for(_exit_or_stop(agent, control), timeout_s)
        except TimeoutError:
            await self._stop_shielded(group, agent, f"timed out after {timeout_s:g} s")
            return True, False
        except asyncio.CancelledError:
            await self._stop_shielded(group, agent, "cancelled")
            raise
        if asked and control is not None:
            await self._stop_shielded(group, agent, f"stopped: {control.reason}")
            return False, True
        signal_group(group, signal.SIGKILL)  # nothing the run started may outlive it
        if not await _within(agent.closed.wait(), self._grace):
            agent.note("\n[orch] output still held open after the exit; no longer read\n")
        return False, False

    async def _record(self, run_id: int, group: int) -> None:
        if self._ledger is None:
            return
        try:
            await self._ledger.record_process(run_id, AgentProcess(group, start_ticks(group)))
        except Exception:
            # the run goes on: the guard still ties the agent to this process's life
            log.exception("could not record the process group of run %s", run_id)

    async def _stop_shielded(self, group: int, agent: _AgentPipes, reason: str) -> None:
        # A (further) cancellation of the caller must not leave the stop half done.
        stop = asyncio.create_task(self._stop(group, agent, reason))
        self._stopping.add(stop)
        stop.add_done_callback(self._stopping.discard)
        await asyncio.shield(stop)

    async def _stop(self, group: int, agent: _AgentPipes, reason: str) -> None:
        agent.note(f"\n[orch] {reason}: stopping the process group\n")
        signal_group(group, signal.SIGTERM)
        graceful = await _within(agent.exited.wait(), self._grace)
        signal_group(group, signal.SIGKILL)  # whatever ignored SIGTERM or outlived the leader
        if not graceful:
            await _within(agent.exited.wait(), self._grace)
        await _within(agent.closed.wait(), self._grace)

    def _header(self, request: AgentRequest, argv: Sequence[str]) -> str:
        # The executable's name only: arguments and environment may carry secrets.
        program = Path(argv[0]).name if argv else "?"
        return (
            f"[orch] {request.task_key} {request.stage}/{request.role} attempt "
            f"{request.attempt} run {request.run_id} · {program} · started "
            f"{utc_iso(self._clock.now())}\n"
        )


class _AgentPipes(asyncio.SubprocessProtocol):
    """The guard's output into the log; its exit and the output's end as two events."""

    def __init__(self, log: CappedLog) -> None:
        self._log = log
        self.exited = asyncio.Event()
        self.closed = asyncio.Event()

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        self._log.write(data if isinstance(data, bytes) else data.encode())

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self.closed.set()

    def process_exited(self) -> None:
        self.exited.set()

    def note(self, text: str) -> None:
        self._log.note(text)


@dataclass(frozen=True, slots=True)
class _Ended:
    exit_code: int | None
    timed_out: bool
    problem: str | None  # why the command never started
    timeout_s: float
    stopped: RunControl | None = None  # orch asked it to stop, for this reason
    cpu_s: float | None = None

    def outcome(self, command: AgentCommand) -> RunOutcome:
        if self.problem:
            return RunOutcome.FAILED
        if self.stopped is not None:
            return RunOutcome.TRANSIENT if self.stopped.transient else RunOutcome.CANCELLED
        return outcome_for(
            self.exit_code,
            timed_out=self.timed_out,
            transient_exit_code=command.transient_exit_code,
        )

    def describe(self, outcome: RunOutcome) -> str | None:
        if self.problem:
            return self.problem
        if self.stopped is not None:
            return self.stopped.reason
        if self.timed_out:
            return f"timed out after {self.timeout_s:g} s"
        if outcome is RunOutcome.SUCCEEDED or self.exit_code is None:
            return None
        if self.exit_code < 0:
            return f"killed by {_signal_name(-self.exit_code)}"
        transient = " (transient)" if outcome is RunOutcome.TRANSIENT else ""
        return f"exit code {self.exit_code}{transient}"


def render_command(template: Sequence[str], values: Mapping[str, str]) -> list[str]:
    """The command with placeholders substituted inside each argument (one pass)."""
    return [_PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), arg) for arg in template]


def placeholder_values(request: AgentRequest, files: RunFiles) -> dict[str, str]:
    return {
        "prompt_file": str(files.prompt),
        "result_file": str(files.result),
        "worktree": str(request.worktree),
        "task_key": request.task_key,
        "stage": request.stage,
        "role": request.role,
        "python": sys.executable,
    }


def agent_environment(
    request: AgentRequest, files: RunFiles, base: Mapping[str, str], names: Iterable[str] = ()
) -> dict[str, str]:
    """The child's environment, from an allow-list only: PATH, HOME, LANG and the `names`
    the configuration adds, then the run's ORCH_* contract and the request's extras.
    orch's own settings (tokens among them) and anything else of ours never pass."""
    allowed = BASE_ENV | {name for name in names if not name.startswith("ORCH_")}
    env = {name: base[name] for name in sorted(allowed) if name in base}
    env.update(
        {
            "ORCH_TASK_KEY": request.task_key,
            "ORCH_TASK_TITLE": request.title,
            "ORCH_TASK_DESCRIPTION": request.description,
            "ORCH_REPO": request.repo,
            "ORCH_BRANCH": request.branch,
            "ORCH_STAGE": request.stage,
            "ORCH_ROLE": request.role,
            "ORCH_ATTEMPT": str(request.attempt),
            "ORCH_RUN_ID": str(request.run_id),
            "ORCH_PROMPT_FILE": str(files.prompt),
            RESULT_FILE_ENV: str(files.result),
            HEARTBEAT_FILE_ENV: str(files.heartbeat),
            "ORCH_WORKTREE": str(request.worktree),
        }
    )
    env.update(request.extra_env)
    return env


def _cannot_start(argv: Sequence[str], worktree: Path, path: str) -> str | None:
    if not argv or not argv[0]:
        return "the agent command is empty"
    if not worktree.is_dir():
        return f"the worktree {worktree} is not a directory"
    program = argv[0]
    # resolved as the guard's exec will resolve it: against the agent's PATH and cwd
    found = (worktree / program if os.sep in program else None) or shutil.which(program,
                                                                                 path=path)
    if found is None or not os.path.isfile(found):
        return f"cannot start {program!r}: no such file on the agent's PATH"
    if not os.access(found, os.X_OK):
        return f"cannot start {program!r}: not executable"
    return None


def _unstarted(request: AgentRequest, error: str) -> AgentResult:
    return AgentResult(RunOutcome.FAILED, None, 0.0, error, request.log_path)


def _error_text(head: str | None, tail: str, note: str | None) -> str | None:
    if head is None:
        return note
    head = f"{head}; {note}" if note else head
    room = MAX_ERROR_CHARS - len(head) - 1
    return f"{head}\n{tail[-room:]}" if tail and room > 0 else head[:MAX_ERROR_CHARS]


async def _exit_or_stop(agent: _AgentPipes, control: RunControl | None) -> bool:
    """Wait until the agent exits (False) or orch asks it to stop (True)."""
    if control is None:
        await agent.exited.wait()
        return False
    exited = asyncio.ensure_future(agent.exited.wait())
    asked = asyncio.ensure_future(control.wait())
    try:
        done, _ = await asyncio.wait({exited, asked}, return_when=asyncio.FIRST_COMPLETED)
        return exited not in done
    finally:
        for waiter in (exited, asked):
            waiter.cancel()
        await asyncio.gather(exited, asked, return_exceptions=True)


async def _within(waiting: Coroutine[Any, Any, Any], seconds: float) -> bool:
    """True when `waiting` finished within `seconds`."""
    try:
        await asyncio.wait_for(waiting, seconds)
    except TimeoutError:
        return False
    return True


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
