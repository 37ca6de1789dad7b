"""The merge worker with the stage engine: a task leaving development gets its PR, the
merge stage waits for the gate, waits are explained; and the forge gates' answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.config import Settings
from core.integrations.git.workspace import run_git
from core.jobs.engine import StageEngine
from core.jobs.forge_gates import ForgeGates
from core.jobs.gates import QG_CHECKS, GateContext, Waiting
from core.merge.worker import MergeWorker
from core.pipeline.tasks import SYSTEM, ChangeKind, Task
from core.ports import CommitStatus, StatusState
from storage.jobs import SqliteJobStore
from tests.merge_rig import CONTEXT, FORGE_REPO, PIPELINE, MergeRig, merge_rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[MergeRig]:
    async with merge_rig("gitea", tmp_path) as world:
        yield world


def worker_on(rig: MergeRig, merged: list[int], lessons: list[str]) -> MergeWorker:
    async def deploy_failed(task: Task, reason: str) -> None:
        lessons.append(f"{task.key}: {reason}")

    return MergeWorker(rig.gate(), rig.pipeline, rig.leases, rig.records, rig.clock,
                       on_merged=merged.append, on_deploy_failed=deploy_failed)


def heard(rig: MergeRig, worker: MergeWorker) -> None:
    for event, task in rig.notifier.published:
        worker.publish(event, task)
    rig.notifier.published.clear()


async def developed_unpublished(rig: MergeRig, title: str, files: dict[str, str]) -> Task:
    task = await rig.pipeline.create("api", title, SYSTEM)
    task = await rig.pipeline.approve(task.id, SYSTEM)
    worktree = await rig.worktrees.prepare(task)
    for name, text in files.items():
        (worktree / name).write_text(text, encoding="utf-8")
    await run_git(["add", "--all"], cwd=worktree)
    await run_git(["-c", "user.name=d", "-c", "user.email=d@x", "commit", "-qm", title],
                  cwd=worktree)
    return await rig.pipeline.advance(task.id, SYSTEM)


async def test_leaving_development_opens_the_pr_and_the_engine_moves_on_once_merged(
        rig: MergeRig) -> None:
    merged: list[int] = []
    worker = worker_on(rig, merged, [])
    engine = StageEngine(rig.pipeline, SqliteJobStore(rig.db), Settings(pipeline=PIPELINE),
                         rig.clock, checks={**QG_CHECKS,
                                            **ForgeGates(rig.forge, rig.records).checks()})
    task = await developed_unpublished(rig, "feature", {"f.txt": "f\n"})
    await engine.sync(task.id)
    assert (await rig.task(task)).stage == "merge"  # the `merged` gate waits
    heard(rig, worker)

    await worker.tick()

    record = await rig.records.get(task.id)
    assert record.pr_number == 1 and record.pr_url.endswith("/team/api/pulls/1")
    assert merged == [task.id] and "f.txt" in await rig.main_files()
    _, head = await rig.git.fetch(await rig.task(task))
    assert head == await rig.main_sha()  # the deploy stage runs on the merged main
    await engine.sync(task.id)
    assert (await rig.task(task)).stage == "done"
    left_merge = [e for e in await rig.pipeline.history(task.id) if e.from_stage == "merge"]
    assert record.pr_url in (left_merge[-1].reason or "")  # what the tracker write-back says
    assert await worker.card_note(await rig.task(task)) == f"PR #1 (merged) {record.pr_url}"


async def test_a_waiting_task_says_whose_lease_and_what_it_does(rig: MergeRig) -> None:
    worker = worker_on(rig, [], [])
    a = await rig.developed("a", {"a.txt": "a\n"})
    b = await rig.developed("b", {"b.txt": "b\n"})
    await rig.leases.acquire("api", a.id, a.key, "orch", rig.clock.now(), 1800)
    await rig.leases.renew("api", a.id, rig.clock.now(), 1800, phase="re-testing")
    rig.clock.advance(4 * 60)

    waits = await worker.waits([a, b])

    line = f"{a.key}, re-testing for 4 min, expires in 26 min"
    assert waits == {b.id: f"waits for the api merge lease: {line}"}
    assert (await worker.queue_block()).lines == (f"api: {line}",)
    record = await rig.records.get(b.id)
    assert await worker.card_note(b) == f"PR #{record.pr_number} (open) {record.pr_url}"
    outcomes = await worker.tick()  # A's own lease: A goes on, then B after it
    assert [outcomes[t.id].step.value for t in (a, b)] == ["merged", "merged"]
    assert await worker.waits([a, b]) == {} and await worker.queue_block() is None


async def test_a_failed_deploy_records_deploy_degraded(rig: MergeRig) -> None:
    lessons: list[str] = []
    worker = worker_on(rig, [], lessons)
    task = await rig.pipeline.create("api", "t", SYSTEM)
    event = rig.notifier.published[-1][0]
    failed = event.__class__(**{**{f: getattr(event, f) for f in event.__slots__},
                                "kind": ChangeKind.FAILED, "from_stage": "deploy",
                                "to_stage": "blocked", "reason": "health check red"})
    worker.publish(failed, task)
    await worker.tick()
    assert lessons == [f"{task.key}: health check red"]


async def test_forge_gates_wait_on_pending_and_checking_and_fail_on_red(rig: MergeRig) -> None:
    gates = ForgeGates(rig.forge, rig.records)
    task = await rig.developed("feature", {"f.txt": "f\n"})
    ctx = GateContext(task, PIPELINE.spec("merge"))
    sha = await rig.branch_sha(task)
    assert isinstance(await gates.ci_green(ctx), Waiting)
    await rig.forge.set_status(FORGE_REPO, sha, CommitStatus(CONTEXT, StatusState.SUCCESS))
    assert (await gates.ci_green(ctx)).passed
    await rig.forge.set_status(FORGE_REPO, sha, CommitStatus("lint", StatusState.FAILURE))
    red = await gates.ci_green(ctx)
    assert not red.passed and not isinstance(red, Waiting) and "lint" in red.reason
    assert (await gates.branch_mergeable(ctx)).passed
    assert isinstance(await gates.merged(ctx), Waiting)

    pull = rig.emulator.repos[FORGE_REPO].pulls[1]
    pull.checking = 1  # just pushed: the forge says "not mergeable" while it checks
    assert isinstance(await gates.branch_mergeable(ctx), Waiting)
    pull.conflicted = True  # and then it really conflicts
    first, second = await gates.branch_mergeable(ctx), await gates.branch_mergeable(ctx)
    assert isinstance(first, Waiting) or not first.passed
    assert not second.passed and not isinstance(second, Waiting)
    assert "conflicts" in second.reason


async def test_a_repo_the_forge_does_not_know_has_nothing_to_merge(rig: MergeRig) -> None:
    gates = ForgeGates(rig.forge, rig.records, {"api": FORGE_REPO})
    worker = worker_on(rig, [], [])
    task = await rig.pipeline.create("sandbox", "local work", SYSTEM)
    await rig.pipeline.approve(task.id, SYSTEM)
    task = await rig.pipeline.advance(task.id, SYSTEM)  # leaves development, into merge
    heard(rig, worker)
    ctx = GateContext(task, PIPELINE.spec("merge"))
    for check in (gates.merged, gates.ci_green, gates.branch_mergeable):
        outcome = await check(ctx)
        assert outcome.passed and "local repository" in outcome.reason
    assert task.stage == "merge" and await worker.tick() == {}
    assert await rig.records.get(task.id) is None  # no branch pushed, no PR opened
