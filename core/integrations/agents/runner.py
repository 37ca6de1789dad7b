"""The real AgentRunner: a role's command run as a subprocess in the task's worktree.

Each run has three files side by side: the log (`run-7.log`, stdout and stderr merged,
capped), the prompt (`run-7.prompt.md`) and the result the agent may write
(`run-7.result.json`). The command is a template, never a shell line: `{prompt_file}`,
`{result_file}`, `{worktree}`, `{task_key}`, `{stage}`, `{role}` and `{python}` (this
interpreter) are substituted inside each argument, anything else in braces is left as is.

The child gets its own process group, so stopping it stops everything it started:
SIGTERM, a grace period, then SIGKILL. That happens on timeout, when the awaiting task is
cancelled, when orch asks the run to stop (its `RunControl`: the task moved, or the
agent stalled), and (SIGKILL only) to anything left over after a normal exit. While it
runs, every chunk of output and every change of its heartbeat file
(`run-7.heartbeat`, named by ORCH_HEARTBEAT_FILE) counts as activity.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from core.clock import Clock, SystemClock, utc_iso
from core.config import AgentCommand
from core.integrations.agents.activity import AgentActivity
from core.jobs.agents import (
    HEARTBEAT_FILE_ENV,
    RESULT_FILE_ENV,
    AgentRequest,
    AgentResult,
    RunOutcome,
    outcome_for,
    parse_structured_result,
)
from core.jobs.watch import RunControl

MAX_ERROR_CHARS = 1000
TAIL_LINES = 20
_TAIL_BYTES = 16 * 1024
_CHUNK = 64 * 1024
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class SubprocessAgentRunner:
    """Runs agents as local subprocesses: no shell, own process group, always a timeout."""

    def __init__(
        self,
        clock: Clock | None = None,
        log_cap_bytes: int = 1_000_000,
        kill_grace_s: float = 5.0,
        activity_poll_s: float = 1.0,
    ) -> None:
        self._clock = clock or SystemClock()
        self._log_cap = log_cap_bytes
        self._grace = kill_grace_s
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
        structured, note = files.read_result() if ended.stopped is None else ({}, None)
        outcome = ended.outcome(command)
        return AgentResult(
            outcome=outcome,
            exit_code=ended.exit_code,
            duration_s=time.monotonic() - started,
            error=_error_text(ended.describe(outcome), tail, note),
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
        problem = _cannot_start(argv, request.worktree)
        if problem:
            return _Ended(None, False, problem, 0.0)
        control = request.control
        if control is not None and control.stopping:
            return _Ended(None, False, None, 0.0, stopped=control)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=request.worktree,
                env=agent_environment(request, files, os.environ),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            return _Ended(None, False, f"cannot start {argv[0]!r}: {exc.strerror or exc}", 0.0)
        watcher = AgentActivity(proc.pid, files.heartbeat, control)
        poll = asyncio.create_task(watcher.poll(self._clock, self._poll_s))
        try:
            timed_out, stopped = await self._supervise(proc, log, command.timeout_s, control)
        finally:
            poll.cancel()
            await asyncio.gather(poll, return_exceptions=True)
        return _Ended(proc.returncode, timed_out, None, command.timeout_s,
                      stopped=control if stopped else None, cpu_s=watcher.cpu_s)

    async def _supervise(
        self, proc: asyncio.subprocess.Process, log: CappedLog, timeout_s: float,
        control: RunControl | None,
    ) -> tuple[bool, bool]:
        """Wait for the child within its timeout or until orch asks it to stop:
        (stopped for the timeout, stopped on request)."""
        assert proc.stdout is not None
        # The pipe is drained all along, so a chatty child never blocks on a full pipe.
        pump = asyncio.create_task(log.pump(proc.stdout))
        try:
            asked = await asyncio.wait_for(_exit_or_stop(proc, control), timeout_s)
        except TimeoutError:
            await self._stop_shielded(proc, pump, log, f"timed out after {timeout_s:g} s")
            return True, False
        except asyncio.CancelledError:
            await self._stop_shielded(proc, pump, log, "cancelled")
            raise
        if asked and control is not None:
            await self._stop_shielded(proc, pump, log, f"stopped: {control.reason}")
            return False, True
        _signal_group(proc.pid, signal.SIGKILL)  # nothing the run started may outlive it
        await _settle(pump)
        return False, False

    async def _stop_shielded(
        self,
        proc: asyncio.subprocess.Process,
        pump: asyncio.Task[None],
        log: CappedLog,
        reason: str,
    ) -> None:
        # A (further) cancellation of the caller must not leave the stop half done.
        stop = asyncio.create_task(self._stop(proc, pump, log, reason))
        self._stopping.add(stop)
        stop.add_done_callback(self._stopping.discard)
        await asyncio.shield(stop)

    async def _stop(
        self,
        proc: asyncio.subprocess.Process,
        pump: asyncio.Task[None],
        log: CappedLog,
        reason: str,
    ) -> None:
        log.note(f"\n[orch] {reason}: stopping the process group\n")
        _signal_group(proc.pid, signal.SIGTERM)
        graceful = await _ends_within(proc, self._grace)
        _signal_group(proc.pid, signal.SIGKILL)  # whatever ignored SIGTERM or outlived the leader
        if not graceful:
            await _ends_within(proc, self._grace)
        await _settle(pump, cancel=True)

    def _header(self, request: AgentRequest, argv: Sequence[str]) -> str:
        # The executable's name only: arguments and environment may carry secrets.
        program = Path(argv[0]).name if argv else "?"
        return (
            f"[orch] {request.task_key} {request.stage}/{request.role} attempt "
            f"{request.attempt} run {request.run_id} · {program} · started "
            f"{utc_iso(self._clock.now())}\n"
        )


@dataclass(frozen=True, slots=True)
class RunFiles:
    """The prompt and result files that sit next to a run's log."""

    prompt: Path
    result: Path
    heartbeat: Path

    @classmethod
    def beside(cls, log_path: Path) -> RunFiles:
        stem = log_path.name.removesuffix(".log")
        return cls(
            log_path.with_name(f"{stem}.prompt.md"), log_path.with_name(f"{stem}.result.json"),
            log_path.with_name(f"{stem}.heartbeat"),
        )

    def prepare(self, prompt: str) -> None:
        self.prompt.parent.mkdir(parents=True, exist_ok=True)
        self.prompt.write_text(prompt, encoding="utf-8")
        # A result left by an earlier run under the same name must not pass for this one's.
        self.result.unlink(missing_ok=True)
        self.heartbeat.unlink(missing_ok=True)

    def read_result(self) -> tuple[dict[str, Any], str | None]:
        try:
            text = self.result.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}, None
        except (OSError, UnicodeDecodeError) as exc:
            return {}, f"result file: unreadable ({exc})"
        return parse_structured_result(text)


class CappedLog:
    """A run's log: output up to a cap, then one marker line; the tail kept in memory."""

    def __init__(self, path: Path, cap_bytes: int, control: RunControl | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._control = control
        self._file = path.open("wb")
        self._cap = cap_bytes
        self._written = 0
        self._truncated = False
        self._tail = bytearray()

    def __enter__(self) -> CappedLog:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._file.close()

    async def pump(self, stream: asyncio.StreamReader) -> None:
        """Copy the stream into the log until its end, past the cap too (discarding)."""
        while chunk := await stream.read(_CHUNK):
            self.write(chunk)

    def write(self, data: bytes) -> None:
        if self._control is not None:
            self._control.touch()
        self._tail += data
        del self._tail[:-_TAIL_BYTES]
        room = max(0, self._cap - self._written)
        self._put(data[:room])
        self._written += min(room, len(data))
        if len(data) > room and not self._truncated:
            self._truncated = True
            self._put(f"\n[log truncated at {self._cap} bytes]\n".encode())

    def note(self, text: str) -> None:
        """orch's own line: always written, counted against the cap, not in the tail."""
        data = text.encode("utf-8", "replace")
        self._put(data)
        self._written += len(data)

    def tail_text(self) -> str:
        lines = self._tail.decode("utf-8", "replace").splitlines()[-TAIL_LINES:]
        return "\n".join(lines).strip()[-MAX_ERROR_CHARS:]

    def _put(self, data: bytes) -> None:
        if not data or self._file.closed:
            return
        try:
            self._file.write(data)
            self._file.flush()
        except OSError:
            self._file.close()  # a full disk loses the log, not the run


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
    request: AgentRequest, files: RunFiles, base: Mapping[str, str]
) -> dict[str, str]:
    """The child's environment: ours minus orch's own ORCH_* settings (tokens among them),
    plus the run's ORCH_* contract, plus the request's extra variables."""
    env = {name: value for name, value in base.items() if not name.startswith("ORCH_")}
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


def _cannot_start(argv: Sequence[str], worktree: Path) -> str | None:
    if not argv or not argv[0]:
        return "the agent command is empty"
    if not worktree.is_dir():
        return f"the worktree {worktree} is not a directory"
    return None


def _unstarted(request: AgentRequest, error: str) -> AgentResult:
    return AgentResult(RunOutcome.FAILED, None, 0.0, error, request.log_path)


def _error_text(head: str | None, tail: str, note: str | None) -> str | None:
    if head is None:
        return note
    head = f"{head}; {note}" if note else head
    room = MAX_ERROR_CHARS - len(head) - 1
    return f"{head}\n{tail[-room:]}" if tail and room > 0 else head[:MAX_ERROR_CHARS]


async def _exit_or_stop(proc: asyncio.subprocess.Process, control: RunControl | None) -> bool:
    """Wait until the child exits (False) or orch asks it to stop (True)."""
    if control is None:
        await proc.wait()
        return False
    exited = asyncio.ensure_future(proc.wait())
    asked = asyncio.ensure_future(control.wait())
    try:
        done, _ = await asyncio.wait({exited, asked}, return_when=asyncio.FIRST_COMPLETED)
        return exited not in done
    finally:
        for waiter in (exited, asked):
            waiter.cancel()
        await asyncio.gather(exited, asked, return_exceptions=True)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is gone already (macOS answers EPERM for a group of zombies)


async def _ends_within(proc: asyncio.subprocess.Process, seconds: float) -> bool:
    """True when the child exited and its output closed within `seconds`."""
    try:
        await asyncio.wait_for(proc.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def _settle(pump: asyncio.Task[None], *, cancel: bool = False) -> None:
    if cancel and not pump.done():
        pump.cancel()  # a holder of the pipe escaped the group; stop reading from it
    await asyncio.wait({pump})
    if not pump.cancelled():
        pump.exception()  # retrieved on purpose: a pipe broken at the end costs log lines only


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
