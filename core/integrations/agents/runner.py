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
(SIGKILL only) to anything left over after a normal exit. The exit decides the outcome,
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
from types import TracebackType
from typing import Any

from core.clock import Clock, SystemClock, utc_iso
from core.config import AgentCommand
from core.integrations.agents.processes import guarded, signal_group, start_ticks
from core.jobs.agents import (
    RESULT_FILE_ENV,
    AgentProcess,
    AgentRequest,
    AgentResult,
    RunOutcome,
    outcome_for,
    parse_structured_result,
)
from core.ports import ProcessLedger

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 1000
DEFAULT_RESULT_CAP = 1_000_000
BASE_ENV = frozenset({"PATH", "HOME", "LANG"})
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
        *,
        result_cap_bytes: int = DEFAULT_RESULT_CAP,
        env_names: Iterable[str] = (),
        ledger: ProcessLedger | None = None,
        base_env: Mapping[str, str] | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._log_cap = log_cap_bytes
        self._grace = kill_grace_s
        self._result_cap = result_cap_bytes
        self._env_names = frozenset(env_names)
        self._ledger = ledger
        self._base_env = os.environ if base_env is None else base_env
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
            log = CappedLog(request.log_path, self._log_cap)
        except OSError as exc:
            return _unstarted(request, f"cannot prepare the run's files: {exc}")
        with log:
            log.note(self._header(request, argv))
            ended = await self._execute(argv, request, files, command, log)
            tail = log.tail_text()
        structured, note, oversize = files.read_result(self._result_cap)
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
        try:
            timed_out = await self._supervise(transport, agent, request, command.timeout_s)
        finally:
            transport.close()
        return _Ended(transport.get_returncode(), timed_out, None, command.timeout_s)

    async def _supervise(
        self,
        transport: asyncio.SubprocessTransport,
        agent: _AgentPipes,
        request: AgentRequest,
        timeout_s: float,
    ) -> bool:
        """Wait for the agent to exit within its timeout; True when it had to be stopped.
        The exit decides: output still held open by something it left behind does not."""
        group = transport.get_pid()
        try:
            await self._record(request.run_id, group)
            await asyncio.wait_for(agent.exited.wait(), timeout_s)
        except TimeoutError:
            await self._stop_shielded(group, agent, f"timed out after {timeout_s:g} s")
            return True
        except asyncio.CancelledError:
            await self._stop_shielded(group, agent, "cancelled")
            raise
        signal_group(group, signal.SIGKILL)  # nothing the run started may outlive it
        if not await _within(agent.closed.wait(), self._grace):
            agent.note("\n[orch] output still held open after the exit; no longer read\n")
        return False

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
class RunFiles:
    """The prompt and result files that sit next to a run's log."""

    prompt: Path
    result: Path

    @classmethod
    def beside(cls, log_path: Path) -> RunFiles:
        stem = log_path.name.removesuffix(".log")
        return cls(
            log_path.with_name(f"{stem}.prompt.md"), log_path.with_name(f"{stem}.result.json")
        )

    def prepare(self, prompt: str) -> None:
        self.prompt.parent.mkdir(parents=True, exist_ok=True)
        self.prompt.write_text(prompt, encoding="utf-8")
        # A result left by an earlier run under the same name must not pass for this one's.
        self.result.unlink(missing_ok=True)

    def read_result(self, cap_bytes: int) -> tuple[dict[str, Any], str | None, bool]:
        """(structured, note, oversize). A file over `cap_bytes` is never read whole:
        it fails the run, so a runaway agent cannot fill memory or the database."""
        try:
            with self.result.open("rb") as file:
                size = os.fstat(file.fileno()).st_size
                data = file.read(cap_bytes + 1) if size <= cap_bytes else b""
        except FileNotFoundError:
            return {}, None, False
        except OSError as exc:
            return {}, f"result file: unreadable ({exc})", False
        if size > cap_bytes or len(data) > cap_bytes:
            return {}, (f"result file is {max(size, len(data))} bytes, over the cap of "
                        f"{cap_bytes} (ORCH_AGENT_RESULT_MAX_BYTES)"), True
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return {}, f"result file: unreadable ({exc})", False
        return (*parse_structured_result(text), False)


class CappedLog:
    """A run's log: output up to a cap, then one marker line; the tail kept in memory."""

    def __init__(self, path: Path, cap_bytes: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
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

    def write(self, data: bytes) -> None:
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

    def outcome(self, command: AgentCommand) -> RunOutcome:
        if self.problem:
            return RunOutcome.FAILED
        return outcome_for(
            self.exit_code,
            timed_out=self.timed_out,
            transient_exit_code=command.transient_exit_code,
        )

    def describe(self, outcome: RunOutcome) -> str | None:
        if self.problem:
            return self.problem
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
