"""Seed 001 level A: two green branches in one repository, serialised by the lease,
the second rebased onto the first's merge and re-tested before it merges; a red
combination is rolled back and main never moves. Against the fake forge and against
the Gitea emulator over HTTP, always on real git."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.integrations.git.workspace import run_git
from core.merge.gate import Step
from core.merge.records import MergeState
from core.ports import StatusState
from tests.merge_rig import CONTEXT, FORGE_REPO, MergeRig, merge_rig

RENAME = {"app.py": "def hello():\n    return 'hi'\n",
          "test_app.py": "from app import hello\nassert hello() == 'hi'\n"}
CALLS_OLD_NAME = {"test_b.py": "from app import greet\nassert greet() == 'hi'\n"}


@pytest.fixture(params=["fake", "gitea"])
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MergeRig]:
    async with merge_rig(request.param, tmp_path) as world:
        yield world


async def test_b_defers_while_a_holds_the_lease_then_merges_on_top_of_a(rig: MergeRig) -> None:
    gate = rig.gate()
    a = await rig.developed("add a", {"a.txt": "from A\n"})
    b = await rig.developed("add b", {"b.txt": "from B\n"})
    main_before, b_before = await rig.main_sha(), await rig.branch_sha(b)

    held = await rig.leases.acquire("api", a.id, a.key, "orch", rig.clock.now(), 1800)
    assert held.granted
    waiting = await gate.run(b)
    assert waiting.step is Step.WAITING and waiting.lease.task_key == a.key
    assert (await rig.main_sha(), await rig.branch_sha(b)) == (main_before, b_before)
    assert gate.retests == 0 and rig.merges == 0  # B touched nothing
    await rig.leases.release("api", a.id, rig.clock.now(), "test")

    assert (await gate.run(a)).step is Step.MERGED
    a_merge = await rig.main_sha()
    merged_b = await gate.run(b)
    assert merged_b.step is Step.MERGED and gate.retests == 2

    record = await rig.records.get(b.id)
    assert record.state is MergeState.MERGED and record.tested_green
    tested = record.tested_sha
    assert tested != b_before  # rebased onto A's merge, then re-tested
    assert (await run_git(["merge-base", "--is-ancestor", a_merge, tested], cwd=rig.bare)) == ""
    pr = await rig.forge.get_pull_request(FORGE_REPO, record.pr_number)
    assert pr.merged and pr.merge_commit_sha == await rig.main_sha()
    parents = (await run_git(["rev-list", "--parents", "-n1", "main"], cwd=rig.bare)).split()
    assert parents[1:] == [a_merge, tested]  # B's merge: main was A's merge, head = tested
    assert {"a.txt", "b.txt"} <= set(await rig.main_files())
    status = (await rig.forge.combined_status(FORGE_REPO, tested)).of(CONTEXT)
    assert status.state is StatusState.SUCCESS
    assert await rig.leases.held(rig.clock.now()) == []


async def test_a_red_combination_rolls_b_back_and_main_never_moves(rig: MergeRig) -> None:
    gate = rig.gate()
    a = await rig.developed("rename greet", RENAME)
    b = await rig.developed("call greet", CALLS_OLD_NAME)
    assert (await gate.run(a)).step is Step.MERGED
    main_after_a = await rig.main_sha()

    outcome = await gate.run(b)

    assert outcome.step is Step.ROLLED_BACK
    assert await rig.main_sha() == main_after_a  # main is never broken
    task = await rig.task(b)
    assert task.stage == "development" and "ImportError" in (task.reason or "")
    assert "re-test after rebase onto main failed" in task.reason
    assert rig.lessons == [(b.key, task.reason)]
    record = await rig.records.get(b.id)
    assert record.tested_green is False and record.state is MergeState.OPEN
    status = (await rig.forge.combined_status(FORGE_REPO, record.tested_sha)).of(CONTEXT)
    assert status.state is StatusState.FAILURE
    assert await rig.leases.held(rig.clock.now()) == []  # released for the next task
    assert rig.merges == 1


async def test_a_rebase_conflict_rolls_back_naming_the_files(rig: MergeRig) -> None:
    gate = rig.gate()
    a = await rig.developed("hi there", {"app.py": "def greet():\n    return 'hi there'\n",
                                         "test_app.py": "import app\n"})
    b = await rig.developed("hi you", {"app.py": "def greet():\n    return 'hi you'\n",
                                       "test_app.py": "import app\nassert app.greet()\n"})
    assert (await gate.run(a)).step is Step.MERGED
    main_after_a = await rig.main_sha()
    outcome = await gate.run(b)
    assert outcome.step is Step.ROLLED_BACK
    assert outcome.reason == "rebase onto main conflicts in app.py, test_app.py"
    assert (await rig.task(b)).stage == "development"
    assert await rig.main_sha() == main_after_a and gate.retests == 1
