"""The demo's fourth act: code lands through the merge gate, on a Gitea emulator with
real git. Two green tasks race for the lease; the second is rebased onto the first's
merge and re-tested; a third, green alone, is red on top of main (it calls a function
the first renamed) and is rolled back with a lesson; its developer fixes it and it
lands too. Main is never broken."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.merge_wiring import MergeWiring
from core.clock import Clock
from core.integrations.git.workspace import run_git
from core.lessons.journal import LessonFilter
from core.merge.gate import Outcome, Step
from core.pipeline.tasks import ChangeKind, Task
from sandbox.demo_acts import look, press, say, work
from sandbox.gitea.emulator import GiteaEmulator
from sandbox.team import Team
from sandbox.transcript import Transcript

FORGE_REPO = "team/shop"
CONTEXT = "orch/merge"
TOKEN = "gitea-demo-token"
SHOP_FILES = {
    "app.py": "def greet():\n    return 'hi'\n",
    "test_app.py": "from app import greet\nassert greet() == 'hi'\n",
    "run_tests.py": ("import glob, importlib, sys\nsys.path.insert(0, '.')\n"
                     "for name in sorted(glob.glob('test_*.py')):\n"
                     "    importlib.import_module(name[:-3])\nprint('all tests passed')\n"),
}


async def shop_forge(root: Path, clock: Clock) -> GiteaEmulator:
    """The emulator with one protected repository whose main needs orch's status."""
    # The demo's clock only moves when the script says so: the forge answers at once
    # (no "still checking" 405s to wait out on a clock that stands still).
    forge = GiteaEmulator(root, clock, checking_reads=0)
    await forge.create_repo(FORGE_REPO, SHOP_FILES)
    forge.protect(FORGE_REPO, "main", (CONTEXT,))
    forge.add_token(TOKEN, "orch-bot")
    return forge


async def merge_act(team: Team, out: Transcript, forge: GiteaEmulator) -> list[bool]:
    out.note("— act 4: code lands (the merge gate, a Gitea emulator, real git) —")
    _NOTES.append(out)
    merge = team.orch.merge
    assert merge is not None
    a = await _new(team, "Rename greet to hello [rename-greet]")
    b = await _new(team, "Add the stock list")
    c = await _new(team, "Greet shoppers by name [call-greet]")
    for task in (a, b, c):
        await press(team, task.key, "Approve")
    await work(team)  # develop, review, test: each stops in merge, its PR opened
    checks = [[(await team.orch.pipeline.get(t.id)).stage for t in (a, b, c)] == ["merge"] * 3]
    checks += await _race(team, out, merge, a, b)
    await look(team)  # every card caught up before the gate holds a lease again
    outcomes = await merge.worker.tick()  # B goes on top of A's merge; C is re-tested
    for task in (b, c):
        out.note(f"(merge gate) {task.key}: {_said(outcomes[task.id])}")
    await look(team)
    b_merge = outcomes[b.id].sha
    checks += [outcomes[b.id].step is Step.MERGED, outcomes[c.id].step is Step.ROLLED_BACK,
               await _main(forge) == b_merge]  # C's red re-test never reached main
    checks += await _b_on_top_of_a(team, forge, a, b)
    checks += await _c_rolled_back(team, c)
    await _until_landed(team, merge, (a, b, c))
    checks.append([(await team.orch.pipeline.get(t.id)).stage for t in (a, b, c)]
                  == ["done"] * 3)
    return checks


async def _until_landed(team: Team, merge: MergeWiring, tasks: tuple[Task, ...]) -> None:
    """Agents work, the gate merges what reached merge, the lead approves each deploy."""
    for _ in range(12):
        await work(team)
        for task_id, outcome in (await merge.worker.tick()).items():
            if outcome.reason == "merged":
                continue  # merged before, waiting for its deploy to be approved
            key = (await team.orch.pipeline.get(task_id)).key
            team.orch.engine.touch(task_id)
            await _note(team, f"(merge gate) {key}: {_said(outcome)}")
        await work(team)
        for task in tasks:
            if (await team.orch.pipeline.get(task.id)).stage == "merge":
                await press(team, task.key, "Approve")
        if all([(await team.orch.pipeline.get(t.id)).stage == "done" for t in tasks]):
            return


def _said(outcome: Outcome) -> str:
    if outcome.step is Step.MERGED:
        return "re-tested on the current main and merged with the tested SHA"
    return outcome.reason.splitlines()[0]


async def _note(team: Team, text: str) -> None:
    _NOTES[-1].note(text)
    await look(team, 0)


_NOTES: list[Transcript] = []


async def _race(team: Team, out: Transcript, merge: MergeWiring, a: Task,
                b: Task) -> list[bool]:
    gate, leases = merge.gate, merge.worker
    first = asyncio.ensure_future(gate.run(a))
    # Until A holds the lease (it is re-testing). A fetches, rebases and pushes first:
    # real git, which on a loaded machine takes seconds, so wait on the lease itself.
    while not first.done():
        if await leases.waits([await team.orch.pipeline.get(b.id)]):
            break
        await asyncio.sleep(0.01)
    waiting = await gate.run(b)
    if waiting.lease is not None:  # what /queue says then, less the phase (it races)
        out.note(f"(merge gate) {b.key} waits for the shop merge lease: "
                 f"{waiting.lease.task_key} holds it")
    done = await first
    out.note(f"(merge gate) {a.key}: {_said(done)}")
    await look(team)
    return [waiting.step is Step.WAITING, done.step is Step.MERGED]


async def _b_on_top_of_a(team: Team, forge: GiteaEmulator, a: Task, b: Task) -> list[bool]:
    records = team.orch.merge.gate._records if team.orch.merge else None
    assert records is not None
    rec_a, rec_b = await records.get(a.id), await records.get(b.id)
    assert rec_a is not None and rec_b is not None
    bare = Path(forge.clone_url(FORGE_REPO))
    parents = (await run_git(["rev-list", "--parents", "-n1", "main"], cwd=bare)).split()
    return [parents[1:] == [rec_a.merged_sha, rec_b.tested_sha]]


async def _c_rolled_back(team: Team, c: Task) -> list[bool]:
    events = await team.orch.pipeline.history(c.id)
    back = [e for e in events if e.kind is ChangeKind.ROLLED_BACK]
    lessons = await team.orch.lessons.get(LessonFilter(lesson_type="merge_hold"))
    return [bool(back) and "re-test after rebase" in (back[-1].reason or ""),
            any(lesson.work_item == c.key for lesson in lessons)]


async def _new(team: Team, title: str) -> Task:
    await say(team, f"/new shop {title}")
    tasks = [t for t in await team.orch.pipeline.open_tasks() if t.title == title]
    return tasks[-1]


async def _main(forge: GiteaEmulator) -> str:
    return await run_git(["rev-parse", "main"], cwd=Path(forge.clone_url(FORGE_REPO)))
