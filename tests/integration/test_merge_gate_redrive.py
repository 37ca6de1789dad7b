"""What people and crashes do to a merge in flight: a force-push during the re-test, a
merge by hand, a crash after the re-test, a process killed between the merge call and
recording it. None of them leads to an untested merge or to a second merge."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.merge.gate import Step
from core.merge.records import MergeState
from core.pipeline.tasks import Actor, Task
from core.ports import Retest, Retester
from tests.git_rig import PersonClone
from tests.merge_rig import MergeRig, merge_rig

ROOT = Path(__file__).resolve().parents[2]
PERSON = Actor("telegram", "7", "lead")


@pytest.fixture(params=["fake", "gitea"])
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MergeRig]:
    async with merge_rig(request.param, tmp_path) as world:
        yield world


class PushDuringRetest:
    """The re-test passes, but meanwhile a person force-pushes the task branch."""

    def __init__(self, inner: Retester, person: PersonClone) -> None:
        self.inner, self.person = inner, person

    async def retest(self, task: Task, worktree: Path, sha: str) -> Retest:
        result = await self.inner.retest(task, worktree, sha)
        await self.person.commit_and_push(task.branch, {"late.txt": "untested\n"})
        return result


async def test_a_force_push_during_the_retest_never_merges_untested_code(rig: MergeRig,
                                                                          tmp_path: Path) -> None:
    task = await rig.developed("feature", {"f.txt": "f\n"})
    person = await PersonClone.of(rig.bare, tmp_path / "person")
    person_pushing = PushDuringRetest(rig.retester, person)
    rig.retester = person_pushing
    main_before = await rig.main_sha()

    outcome = await rig.gate().run(task)

    assert outcome.step is Step.HELD and "moved on the forge by someone else" in outcome.reason
    assert await rig.main_sha() == main_before and rig.merges == 0
    held = await rig.task(task)
    assert held.stage == "blocked" and held.reason == outcome.reason
    assert await rig.leases.held(rig.clock.now()) == []

    # A person looks, unblocks: the gate adopts their push and re-tests what is there.
    rig.retester = person_pushing.inner
    await rig.pipeline.unblock(task.id, PERSON)
    again = await rig.gate().run(await rig.task(task))
    assert again.step is Step.MERGED and "late.txt" in await rig.main_files()


async def test_a_merge_by_hand_while_waiting_completes_without_a_second_merge(
        rig: MergeRig) -> None:
    gate = rig.gate()
    a = await rig.developed("a", {"a.txt": "a\n"})
    b = await rig.developed("b", {"b.txt": "b\n"})
    await rig.leases.acquire("api", a.id, a.key, "orch", rig.clock.now(), 1800)
    assert (await gate.run(b)).step is Step.WAITING
    by_hand = await rig.merge_by_hand(b)

    outcome = await gate.run(b)

    assert outcome.step is Step.MERGED and outcome.sha == by_hand
    assert rig.merge_calls == 0 and gate.retests == 0
    assert await rig.main_sha() == by_hand
    assert (await rig.records.get(b.id)).state is MergeState.MERGED
    held = await rig.leases.held(rig.clock.now())
    assert [lease.task_key for lease in held] == [a.key]  # A's lease is A's business


class CrashOnMerge:
    """A forge whose merge call never returns: the process died right there."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def merge(self, *args: Any, **kwargs: Any) -> None:
        raise SystemExit("killed before the merge call")


@pytest.mark.parametrize("always", [True, False], ids=["rebase-always", "rebase-when-behind"])
async def test_a_redrive_after_a_green_retest_skips_the_second_retest(
        rig: MergeRig, always: bool) -> None:
    task = await rig.developed("feature", {"f.txt": "f\n"})
    crashing = rig.gate(rebase_always=always)
    crashing._forge = CrashOnMerge(rig.forge)
    with pytest.raises(SystemExit):
        await crashing.run(task)
    assert crashing.retests == 1 and rig.merges == 0

    redrive = rig.gate(rebase_always=always)
    outcome = await redrive.run(await rig.task(task))
    assert outcome.step is Step.MERGED and redrive.retests == 0 and rig.merges == 1


async def test_a_crash_between_the_merge_call_and_its_record_merges_once(
        tmp_path: Path) -> None:
    async with merge_rig("gitea", tmp_path) as rig:  # a real process, killed by SIGKILL
        task = await rig.developed("feature", {"f.txt": "f\n"})
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.merge_child", str(tmp_path), rig.emulator.base_url,
            str(task.id), cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        # The forge merges, then the orch that asked is killed before it hears back.
        rig.emulator.on_merged = lambda pull: os.kill(child.pid, signal.SIGKILL)
        output, _ = await asyncio.wait_for(child.communicate(), 60)
        assert child.returncode == -signal.SIGKILL, output.decode()
        assert rig.emulator.merges == 1
        record = await rig.records.get(task.id)
        assert record.state is MergeState.MERGING  # the merge happened; orch never heard

        rig.emulator.on_merged = None
        outcome = await rig.gate().run(await rig.task(task))

        assert outcome.step is Step.MERGED and rig.emulator.merges == 1
        assert rig.emulator.merge_requests == 1  # the redrive asked the PR, never merged
        assert (await rig.records.get(task.id)).state is MergeState.MERGED
        assert await rig.leases.held(rig.clock.now()) == []  # the dead holder's lease went


async def test_405_while_the_forge_is_checking_is_retried(tmp_path: Path) -> None:
    async with merge_rig("gitea", tmp_path) as rig:
        task = await rig.developed("feature", {"f.txt": "f\n"})
        record = await rig.records.get(task.id)
        rig.emulator.repos["team/api"].pulls[record.pr_number].checking = 3  # just pushed
        outcome = await rig.gate().run(task)
        assert outcome.step is Step.MERGED
        assert rig.emulator.merge_requests >= 2 and rig.emulator.merges == 1
