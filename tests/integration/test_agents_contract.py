"""The agent ports' contracts: ScriptedRunner and FakeWorktrees (the unit tests' agent side)
against SubprocessAgentRunner running real child processes and GitWorktrees making real
git worktrees. The same test bodies run over both."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from core.clock import ManualClock
from core.config import AgentCommand
from core.integrations.agents.runner import SubprocessAgentRunner
from core.integrations.git.workspace import GitWorkspace
from core.integrations.git.worktrees import GitWorktrees
from core.jobs.agents import RESULT_FILE_ENV, AgentRequest, RunOutcome
from core.pipeline.service import PipelineService
from core.pipeline.stages import DEFAULT_PIPELINE
from core.pipeline.tasks import SYSTEM, Task
from core.ports import AgentRunner, Worktrees
from tests.fakes import FakeWorktrees, InMemoryTaskStore, RecordingNotifier, ScriptedRunner

EXIT = {RunOutcome.SUCCEEDED: 0, RunOutcome.FAILED: 1, RunOutcome.TRANSIENT: 75}

AGENT = """
import json, os, sys
with open(os.environ[{env!r}], "w") as out:
    json.dump({structured!r}, out)
print("working on", os.getcwd())
sys.exit({code})
"""


class Agents(Protocol):
    runner: AgentRunner

    def plan(self, role: str, outcome: RunOutcome, structured: dict[str, Any]) -> AgentCommand:
        """Make the next run of `role` end so; the command to run it with."""
        ...


class Scripted:
    def __init__(self) -> None:
        self.scripted = ScriptedRunner()
        self.runner: AgentRunner = self.scripted

    def plan(self, role: str, outcome: RunOutcome, structured: dict[str, Any]) -> AgentCommand:
        self.scripted.then(role, outcome, **structured)
        return AgentCommand(("unused",))


class Subprocesses:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.runner: AgentRunner = SubprocessAgentRunner(clock=ManualClock(), kill_grace_s=1.0)

    def plan(self, role: str, outcome: RunOutcome, structured: dict[str, Any]) -> AgentCommand:
        script = self.tmp / f"{role}.py"
        script.write_text(textwrap.dedent(AGENT.format(
            env=RESULT_FILE_ENV, structured=json.loads(json.dumps(structured)),
            code=EXIT[outcome])), encoding="utf-8")
        return AgentCommand((sys.executable, str(script)), timeout_s=30)


@pytest.fixture(params=["scripted", "subprocess"])
def agents(request: pytest.FixtureRequest, tmp_path: Path) -> Agents:
    return Scripted() if request.param == "scripted" else Subprocesses(tmp_path)


def request_for(tmp: Path, role: str = "developer", run_id: int = 1) -> AgentRequest:
    worktree = tmp / "worktree"
    worktree.mkdir(exist_ok=True)
    return AgentRequest(
        task_key="ORCH-7", title="Fix the widget", description="It wobbles.", repo="api",
        branch="orch/orch-7", stage="development", role=role, attempt=1, run_id=run_id,
        worktree=worktree, log_path=tmp / "logs" / f"run-{run_id}.log",
        prompt="# ORCH-7: Fix the widget\n")


async def test_a_success_brings_its_structured_result(agents: Agents, tmp_path: Path) -> None:
    command = agents.plan("reviewer", RunOutcome.SUCCEEDED,
                          {"verdict": "APPROVE", "summary": "fine", "coverage": 91.5})

    result = await agents.runner.run(request_for(tmp_path, "reviewer"), command)

    assert (result.outcome, result.exit_code, result.error) == (RunOutcome.SUCCEEDED, 0, None)
    assert (result.verdict, result.summary, result.coverage) == ("APPROVE", "fine", 91.5)
    assert result.log_path == tmp_path / "logs" / "run-1.log"


@pytest.mark.parametrize("outcome", [RunOutcome.FAILED, RunOutcome.TRANSIENT])
async def test_a_failure_comes_back_as_a_result_never_raised(
        agents: Agents, tmp_path: Path, outcome: RunOutcome) -> None:
    command = agents.plan("developer", outcome, {})

    result = await agents.runner.run(request_for(tmp_path), command)

    assert result.outcome is outcome
    assert result.exit_code not in (None, 0)
    assert isinstance(result.error, str) and result.error


async def test_each_role_gets_its_own_answer(agents: Agents, tmp_path: Path) -> None:
    failing = agents.plan("tester", RunOutcome.FAILED, {"tests_passed": False})
    passing = agents.plan("developer", RunOutcome.SUCCEEDED, {"summary": "done"})

    tested = await agents.runner.run(request_for(tmp_path, "tester", 1), failing)
    developed = await agents.runner.run(request_for(tmp_path, "developer", 2), passing)

    assert (tested.outcome, tested.tests_passed) == (RunOutcome.FAILED, False)
    assert (developed.outcome, developed.summary) == (RunOutcome.SUCCEEDED, "done")


# --- worktrees -------------------------------------------------------------------------


@pytest.fixture(params=["fake", "git"])
async def worktrees(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Worktrees]:
    if request.param == "fake":
        yield FakeWorktrees(tmp_path / "worktrees")
    else:
        yield GitWorktrees(GitWorkspace(tmp_path / "repos", timeout_s=30))


async def tasks(*titles: str, repo: str = "api") -> list[Task]:
    service = PipelineService(InMemoryTaskStore(), DEFAULT_PIPELINE, ManualClock(),
                              RecordingNotifier())
    return [await service.create(repo, title, SYSTEM) for title in titles]


async def test_a_prepared_worktree_is_a_directory(worktrees: Worktrees) -> None:
    [task] = await tasks("Fix it")

    path = await worktrees.prepare(task)

    assert path.is_dir()


async def test_preparing_again_returns_the_same_place_with_the_work_in_it(
        worktrees: Worktrees) -> None:
    [task] = await tasks("Fix it")
    path = await worktrees.prepare(task)
    (path / "work.txt").write_text("half done\n", encoding="utf-8")

    again = await worktrees.prepare(task)

    assert again == path
    assert (again / "work.txt").read_text(encoding="utf-8") == "half done\n"


async def test_two_tasks_never_share_a_worktree(worktrees: Worktrees) -> None:
    first, second = await tasks("One", "Two")

    one, two = await worktrees.prepare(first), await worktrees.prepare(second)
    (one / "mine.txt").write_text("one\n", encoding="utf-8")

    assert one != two and not (two / "mine.txt").exists()
