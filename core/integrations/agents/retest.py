"""Re-tests for the merge gate (the Retester port): a command run in the rebased worktree.

`AgentRetester` runs the testing stage's agent, as the job loop would.

`CommandRetester` runs an argv with a timeout in its own process group (killed on
timeout or cancellation); exit 0 is green, anything else red, and the output's tail is
the reason a red re-test gives."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path

from core.config import AgentCommand
from core.jobs.agents import AgentRequest, RunOutcome, build_prompt
from core.pipeline.tasks import Task
from core.ports import AgentRunner, Retest

MAX_OUTPUT = 4000


class CommandRetester:
    def __init__(self, argv: Sequence[str], *, timeout_s: float = 1800.0,
                 env: Mapping[str, str] | None = None) -> None:
        self._argv = list(argv)
        self._timeout = timeout_s
        self._env = dict(env or {})

    async def retest(self, task: Task, worktree: Path, sha: str) -> Retest:
        env = {**os.environ, **self._env, "ORCH_TASK_KEY": task.key, "ORCH_MERGE_SHA": sha}
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._argv, cwd=worktree, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True)
        except OSError as exc:
            return Retest(False, f"cannot run {self._argv[0]}: {exc.strerror or exc}")
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), self._timeout)
        except TimeoutError:
            _kill(proc)
            await proc.wait()
            return Retest(False, f"the re-test timed out after {self._timeout:g} s")
        except asyncio.CancelledError:
            _kill(proc)
            raise
        text = out.decode(errors="replace")[-MAX_OUTPUT:]
        return Retest(proc.returncode == 0, text)


def _kill(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class AgentRetester:
    """The testing stage's own command (its role's agent), run on the rebased tree.

    Green means the run succeeded and did not report `tests_passed: false`."""

    def __init__(self, runner: AgentRunner, command: AgentCommand, logs_dir: Path, *,
                 role: str = "tester") -> None:
        self._runner = runner
        self._command = command
        self._logs = logs_dir
        self._role = role

    async def retest(self, task: Task, worktree: Path, sha: str) -> Retest:
        prompt = build_prompt(
            task_key=task.key, title=task.title, description=task.description,
            stage="merge", role=self._role, attempt=1, repo=task.repo, branch=task.branch,
            failure_reason=None, lessons=())
        prompt += (f"\n\nThis is the merge gate's re-test of {sha[:12]}: the branch rebased "
                   "onto the current main. Run the tests; change nothing.\n")
        request = AgentRequest(
            task_key=task.key, title=task.title, description=task.description,
            repo=task.repo, branch=task.branch, stage="merge", role=self._role, attempt=1,
            run_id=0, worktree=worktree, prompt=prompt,
            log_path=self._logs / f"merge-{task.key.lower()}-{sha[:12]}.log",
            extra_env={"ORCH_MERGE_SHA": sha})
        result = await self._runner.run(request, self._command)
        passed = (result.outcome is RunOutcome.SUCCEEDED
                  and result.structured.get("tests_passed") is not False)
        summary = result.structured.get("summary")
        output = result.error or (summary if isinstance(summary, str) else "") or ""
        return Retest(passed, output or ("tests passed" if passed else "tests failed"))
