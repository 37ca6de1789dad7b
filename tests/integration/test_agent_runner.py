"""SubprocessAgentRunner against real child processes (small scripts written per test)."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.config import AgentCommand
from core.integrations.agents.runner import MAX_ERROR_CHARS, SubprocessAgentRunner, render_command
from core.jobs.agents import AgentRequest, RunOutcome

_PF_EXITING = 0x4


def _gone(pid: int) -> bool:
    """The process has exited or is exiting (a zombie nobody reaped yet counts as gone).

    A killed process closes its files before it turns into a zombie, so right after its
    pipe closes it may still show state R; the kernel's PF_EXITING flag says it is dying.
    """
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            return True
        return fields[0] in ("Z", "X") or bool(int(fields[6]) & _PF_EXITING)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _script(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "agent.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def _command(script: Path, *args: str, timeout_s: float = 30.0) -> AgentCommand:
    return AgentCommand((sys.executable, str(script), *args), timeout_s=timeout_s)


@pytest.fixture
def request_(tmp_path: Path) -> AgentRequest:
    worktree = tmp_path / "worktree"
    worktree.mkdir()
    return AgentRequest(
        task_key="ORCH-7",
        title="Fix the widget",
        description="It wobbles.",
        repo="api",
        branch="orch/ORCH-7",
        stage="development",
        role="developer",
        attempt=1,
        run_id=11,
        worktree=worktree,
        log_path=tmp_path / "logs" / "run-11.log",
        prompt="# ORCH-7: Fix the widget\n",
        extra_env={"EXTRA_KNOB": "on"},
    )


@pytest.fixture
def runner() -> SubprocessAgentRunner:
    return SubprocessAgentRunner(clock=ManualClock(), log_cap_bytes=100_000, kill_grace_s=1.0)


async def test_success_reads_the_prompt_file_and_logs_its_output(
    tmp_path: Path, request_: AgentRequest, runner: SubprocessAgentRunner
) -> None:
    script = _script(
        tmp_path,
        """
        import sys
        print("prompt says:", open(sys.argv[1]).read().strip())
        print("to stderr", file=sys.stderr)
    """,
    )

    result = await runner.run(request_, _command(script, "{prompt_file}"))

    assert (result.outcome, result.exit_code, result.error) == (RunOutcome.SUCCEEDED, 0, None)
    assert not result.timed_out and result.structured == {}
    assert result.duration_s > 0
    log = request_.log_path.read_text()
    assert log.startswith("[orch] ORCH-7 development/developer attempt 1 run 11")
    assert "prompt says: # ORCH-7: Fix the widget" in log
    assert "to stderr" in log
    assert (tmp_path / "logs" / "run-11.prompt.md").read_text() == request_.prompt


async def test_failure_reports_the_exit_code_and_the_last_lines(
    tmp_path: Path, request_: AgentRequest, runner: SubprocessAgentRunner
) -> None:
    script = _script(
        tmp_path,
        """
        import sys
        for n in range(30):
            print(f"line {n:02d} " + "x" * 60)
        sys.exit(1)
    """,
    )

    result = await runner.run(request_, _command(script))

    assert (result.outcome, result.exit_code) == (RunOutcome.FAILED, 1)
    assert result.error is not None and result.error.startswith("exit code 1\n")
    assert "line 29" in result.error and "line 09" not in result.error
    assert len(result.error) <= MAX_ERROR_CHARS


async def test_exit_75_is_transient(
    tmp_path: Path, request_: AgentRequest, runner: SubprocessAgentRunner
) -> None:
    script = _script(tmp_path, "import sys; print('busy, later'); sys.exit(75)")

    result = await runner.run(request_, _command(script))

    assert (result.outcome, result.exit_code, result.timed_out) == (RunOutcome.TRANSIENT, 75, False)
    assert result.error == "exit code 75 (transient)\nbusy, later"


_SLEEPER_WITH_CHILD = """
    import subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    with open(sys.argv[1], "w") as out:
        out.write(f"{os.getpid()} {child.pid}")
    time.sleep(30)
"""


async def test_timeout_kills_the_whole_process_group(
    tmp_path: Path, request_: AgentRequest, runner: SubprocessAgentRunner
) -> None:
    script = _script(tmp_path, "import os\n" + textwrap.dedent(_SLEEPER_WITH_CHILD))
    pids_file = tmp_path / "pids"

    result = await runner.run(request_, _command(script, str(pids_file), timeout_s=0.5))

    assert (result.outcome, result.timed_out) == (RunOutcome.TRANSIENT, True)
    assert result.error is not None and result.error.startswith("timed out after 0.5 s")
    assert result.duration_s < 10
    pids = [int(pid) for pid in pids_file.read_text().split()]
    assert len(pids) == 2 and all(_gone(pid) for pid in pids)
    assert "[orch] timed out after 0.5 s: stopping the process group" in (
        request_.log_path.read_text()
    )


async def test_a_child_ignoring_sigterm_is_killed_after_the_grace(
    tmp_path: Path, request_: AgentRequest
) -> None:
    script = _script(
        tmp_path,
        """
        import os, signal, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open(sys.argv[1], "w").write(str(os.getpid()))
        time.sleep(30)
    """,
    )
    runner = SubprocessAgentRunner(clock=ManualClock(), kill_grace_s=0.2)

    result = await runner.run(request_, _command(script, str(tmp_path / "pid"), timeout_s=0.5))

    assert (result.outcome, result.timed_out, result.exit_code) == (RunOutcome.TRANSIENT, True, -9)
    assert _gone(int((tmp_path / "pid").read_text()))


async def test_structured_result_is_read_from_the_result_file(
    tmp_path: Path, request_: AgentRequest, runner: SubprocessAgentRunner
) -> None:
    script = _script(
        tmp_path,
        """
        import json, os, sys
        assert sys.argv[1] == os.environ["ORCH_RESULT_FILE"]
        result = {"verdict": "REQUEST_CHANGES", "summary": "needs tests", "coverage": 71}
        open(sys.argv[1], "w").write(json.dumps(result | {"extra": [1]}))
    """,
    )

    result = await runner.run(request_, _command(script, "{result_file}"))

    assert result.outcome is RunOutcome.SUCCEEDED and result.error is None
    assert result.structured == {
        "verdict": "REQUEST_CHANGES",
        "summary": "needs tests",
        "coverage": 71,
        "extra": [1],
    }
    assert (result.verdict, result.coverage, result.tests_passed) == ("REQUEST_CHANGES", 71.0, None)


async def test_malformed_result_is_a_note_not_a_crash(
    tmp_path: Path, request_: AgentRequest, runner: SubprocessAgentRunner
) -> None:
    script = _script(tmp_path, "import os; open(os.environ['ORCH_RESULT_FILE'], 'w').write('{')")

    result = await runner.run(request_, _command(script))

    assert result.outcome is RunOutcome.SUCCEEDED and result.structured == {}
    assert result.error is not None and result.error.startswith("result file: malformed JSON")


async def test_a_result_left_by_an_earlier_run_is_not_read(
    tmp_path: Path, request_: AgentRequest, runner: SubprocessAgentRunner
) -> None:
    stale = tmp_path / "logs" / "run-11.result.json"
    stale.parent.mkdir()
    stale.write_text('{"verdict": "APPROVE"}')
    script = _script(tmp_path, "pass")

    result = await runner.run(request_, _command(script))

    assert result.structured == {}


async def test_environment_is_an_allow_list_plus_the_contract(
    tmp_path: Path, request_: AgentRequest
) -> None:
    ours = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8",
            "ORCH_TELEGRAM_TOKEN": "123:very-secret", "AWS_SECRET_ACCESS_KEY": "hidden",
            "NAMED_KNOB": "kept", "AGENT_ONLY_KNOB": "kept too"}
    runner = SubprocessAgentRunner(clock=ManualClock(), base_env=ours,
                                   env_names=("NAMED_KNOB", "ORCH_TELEGRAM_TOKEN"))
    script = _script(
        tmp_path,
        """
        import json, os
        seen = {k: v for k, v in os.environ.items() if k not in ("PATH", "LC_CTYPE")}
        seen["cwd"] = os.getcwd()
        open(os.environ["ORCH_RESULT_FILE"], "w").write(json.dumps(seen))
    """,
    )
    command = replace(_command(script), env=("AGENT_ONLY_KNOB",))

    result = await runner.run(request_, command)

    logs = tmp_path / "logs"
    assert dict(result.structured) == {
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "NAMED_KNOB": "kept",
        "AGENT_ONLY_KNOB": "kept too",
        "ORCH_TASK_KEY": "ORCH-7",
        "ORCH_TASK_TITLE": "Fix the widget",
        "ORCH_TASK_DESCRIPTION": "It wobbles.",
        "ORCH_REPO": "api",
        "ORCH_BRANCH": "orch/ORCH-7",
        "ORCH_STAGE": "development",
        "ORCH_ROLE": "developer",
        "ORCH_ATTEMPT": "1",
        "ORCH_RUN_ID": "11",
        "ORCH_PROMPT_FILE": str(logs / "run-11.prompt.md"),
        "ORCH_RESULT_FILE": str(logs / "run-11.result.json"),
        "ORCH_HEARTBEAT_FILE": str(logs / "run-11.heartbeat"),
        "ORCH_WORKTREE": str(request_.worktree),
        "EXTRA_KNOB": "on",
        "cwd": str(request_.worktree.resolve()),
    }
    assert "very-secret" not in request_.log_path.read_text()


async def test_log_is_capped_and_the_pipe_still_drained(
    tmp_path: Path, request_: AgentRequest
) -> None:
    script = _script(
        tmp_path,
        """
        import sys
        chunk = "y" * 1023 + "\\n"
        for _ in range(5 * 1024):
            sys.stdout.write(chunk)
        sys.stdout.flush()
        print("the very end", file=sys.stderr)
    """,
    )
    runner = SubprocessAgentRunner(clock=ManualClock(), log_cap_bytes=10_000)

    result = await runner.run(request_, _command(script))

    marker = "\n[log truncated at 10000 bytes]\n"
    log = request_.log_path.read_bytes()
    assert result.outcome is RunOutcome.SUCCEEDED
    assert len(log) <= 10_000 + len(marker)
    assert log.endswith(marker.encode())


async def _handshake_server() -> tuple[asyncio.Server, asyncio.Future[str]]:
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def greeted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        if not ready.done():
            ready.set_result(line.decode().strip())
        writer.close()
        await writer.wait_closed()

    return await asyncio.start_server(greeted, "127.0.0.1", 0), ready


@pytest.fixture
async def handshake() -> AsyncIterator[tuple[int, asyncio.Future[str]]]:
    """A loopback listener the child greets once it is running (no polling, no sleeps)."""
    server, ready = await _handshake_server()
    async with server:
        yield server.sockets[0].getsockname()[1], ready


async def test_cancelling_the_awaiting_task_kills_the_child(
    tmp_path: Path,
    request_: AgentRequest,
    runner: SubprocessAgentRunner,
    handshake: tuple[int, asyncio.Future[str]],
) -> None:
    port, ready = handshake
    script = _script(
        tmp_path,
        """
        import os, socket, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        greeting = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        greeting.sendall(f"{os.getpid()} {child.pid}\\n".encode())
        time.sleep(30)
    """,
    )
    run = asyncio.create_task(runner.run(request_, _command(script, str(port))))

    pids = [int(pid) for pid in (await asyncio.wait_for(ready, 20)).split()]
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run

    assert len(pids) == 2 and all(_gone(pid) for pid in pids)
    assert "[orch] cancelled: stopping the process group" in request_.log_path.read_text()


async def test_missing_executable_is_a_failure_not_an_exception(
    request_: AgentRequest, runner: SubprocessAgentRunner
) -> None:
    command = AgentCommand(("orch-no-such-agent-cli", "{prompt_file}"), timeout_s=5)

    result = await runner.run(request_, command)

    assert (result.outcome, result.exit_code) == (RunOutcome.FAILED, None)
    assert result.error is not None
    assert result.error.startswith("cannot start 'orch-no-such-agent-cli'")


async def test_missing_worktree_is_a_failure_not_an_exception(
    tmp_path: Path, request_: AgentRequest, runner: SubprocessAgentRunner
) -> None:
    gone = replace(request_, worktree=tmp_path / "nowhere")

    result = await runner.run(gone, _command(_script(tmp_path, "pass")))

    assert result.outcome is RunOutcome.FAILED
    assert result.error == f"the worktree {tmp_path / 'nowhere'} is not a directory"


def test_placeholders_are_filled_inside_arguments_and_unknown_braces_kept() -> None:
    values = {"prompt_file": "/p.md", "task_key": "ORCH-1"}

    argv = render_command(
        ("agent", "--message-file={prompt_file}", "{task_key}:{other}", '{"json": 1}'), values
    )

    assert argv == ["agent", "--message-file=/p.md", "ORCH-1:{other}", '{"json": 1}']
