"""The sandbox agents, run by the real runner in a real worktree, do what the demo needs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.config import AgentCommand
from core.integrations.agents.runner import SubprocessAgentRunner
from core.integrations.git.workspace import GitWorkspace, init_local_repo, run_git
from core.jobs.agents import AgentRequest, AgentResult, RunOutcome

AGENTS = Path(__file__).resolve().parents[2] / "sandbox" / "agents"


@pytest.fixture
async def worktree(tmp_path: Path) -> Path:
    seed = await init_local_repo(tmp_path / "seed")
    workspace = GitWorkspace(tmp_path / "repos", timeout_s=30)
    await workspace.ensure_clone("demo", str(seed))
    return await workspace.worktree_for("demo", "orch/ORCH-9")


def _request(worktree: Path, title: str, role: str, attempt: int = 1) -> AgentRequest:
    logs = worktree.parents[2] / "logs"  # repos/logs, beside the clones
    return AgentRequest(
        task_key="ORCH-9",
        title=title,
        description="",
        repo="demo",
        branch="orch/ORCH-9",
        stage=role,
        role=role,
        attempt=attempt,
        run_id=attempt,
        worktree=worktree,
        log_path=logs / f"{role}-{attempt}.log",
        prompt=f"# ORCH-9: {title}\n",
    )


async def _run(request: AgentRequest) -> AgentResult:
    script = AGENTS / f"{request.role}.py"
    command = AgentCommand(("{python}", str(script), "{prompt_file}"), timeout_s=60)
    return await SubprocessAgentRunner(clock=ManualClock()).run(request, command)


async def test_developer_commits_to_the_task_branch(worktree: Path) -> None:
    result = await _run(_request(worktree, "Add a widget", "developer"))

    assert result.outcome is RunOutcome.SUCCEEDED, result.error
    assert result.summary == "Updated work/ORCH-9.md for ORCH-9, attempt 1."
    assert await run_git(["log", "-1", "--format=%s"], cwd=worktree) == (
        "ORCH-9: Add a widget (attempt 1)"
    )
    assert await run_git(["status", "--porcelain"], cwd=worktree) == ""


async def test_bad_review_asks_for_changes_once(worktree: Path) -> None:
    request = _request(worktree, "Widget [bad-review]", "reviewer")

    first = await _run(request)
    second = await _run(replace(request, attempt=2, run_id=2))

    assert (first.verdict, second.verdict) == ("REQUEST_CHANGES", "APPROVE")
    assert await run_git(["status", "--porcelain"], cwd=worktree) == ""


async def test_fail_tests_fails_the_first_test_run_only(worktree: Path) -> None:
    request = _request(worktree, "Widget [fail-tests]", "tester")

    first = await _run(request)
    second = await _run(request)

    assert (first.outcome, first.tests_passed) == (RunOutcome.SUCCEEDED, False)
    assert (second.tests_passed, second.coverage) == (True, 91.5)


async def test_flaky_deploy_is_transient_on_attempt_one(worktree: Path) -> None:
    first = await _run(_request(worktree, "Widget [flaky-deploy]", "deployer"))
    second = await _run(_request(worktree, "Widget [flaky-deploy]", "deployer", attempt=2))

    assert (first.outcome, first.exit_code) == (RunOutcome.TRANSIENT, 75)
    assert second.outcome is RunOutcome.SUCCEEDED


async def test_fail_dev_is_a_failure(worktree: Path) -> None:
    result = await _run(_request(worktree, "Widget [fail-dev]", "developer"))

    assert result.outcome is RunOutcome.FAILED
    assert result.error is not None and "giving up" in result.error
