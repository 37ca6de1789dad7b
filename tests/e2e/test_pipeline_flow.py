"""The whole pipeline in the sandbox: a chain A ← B ← C of tasks, created, linked and
approved in the group, worked by the real script agents in throwaway git repositories,
approved in merge by pressing the button on the push. Time is a ManualClock: the test
drives the job loop and the notifier round by round and never sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import sandbox
from app.runtime import running
from core.clock import ManualClock
from core.config import AgentCommand
from core.pipeline.attention import wants_push
from core.pipeline.stages import DONE
from core.pipeline.tasks import ChangeKind, Task
from sandbox.team import Team, sandbox_settings
from sandbox.telegram.emulator import TelegramEmulator

AGENTS = Path(sandbox.__file__).resolve().parent / "agents"
ROLES = ("developer", "reviewer", "tester", "deployer")
MAX_ROUNDS = 40
BACKOFF_STEP_S = 60.0


def agents() -> dict[str, AgentCommand]:
    # `{python}` is orch's interpreter; the script path is absolute because an agent runs
    # in the task's worktree
    return {role: AgentCommand(("{python}", str(AGENTS / f"{role}.py"), "{prompt_file}"),
                               timeout_s=60) for role in ROLES}


@pytest.fixture
async def team(emulator: TelegramEmulator, clock: ManualClock, tmp_path: Path,
               ) -> AsyncIterator[Team]:
    async with emulator.serve() as url:
        settings = sandbox_settings(
            url, tmp_path / "orch.db", jobs_enabled=True, agents=agents(),
            repos_dir=str(tmp_path / "repos"), max_concurrency=2)
        async with running(settings, clock, poll_timeout=1) as orch:
            yield Team(emulator, orch, clock)


async def runs_of(team: Team, task: Task) -> list[tuple[int, str]]:
    """(run id, stage) of every run the job loop claimed for the task, in claim order."""
    rows = await team.orch.db.fetch_all(
        "SELECT id, stage FROM runs WHERE task_id = ? ORDER BY id", (task.id,))
    return [(r[0], r[1]) for r in rows]


def pushes(team: Team, cards: set[int]) -> list[dict[str, Any]]:
    """The bot's group messages that are neither a task's card nor a reply to someone."""
    return [m for m in team.bot_messages()
            if m["message_id"] not in cards and m["reply_to_message_id"] is None]


async def card_ids(team: Team, tasks: list[Task]) -> set[int]:
    ids = set()
    for task in tasks:
        card = await team.orch.notifier.card_of(task.id)
        assert card is not None, f"{task.key} has no card"
        ids.add(card.message_id)
    return ids


async def approve_in_merge(team: Team, task: Task, cards: set[int]) -> None:
    """Press Approve on the task's 🙋 push (its card's button if the push has none)."""
    asking = [m for m in pushes(team, cards)
              if m["plain_text"].startswith(f"🙋 {task.key} needs approval to leave merge")]
    assert len(asking) == 1, f"{task.key} asked {len(asking)} times for approval in merge"
    message = asking[0]
    if "Approve" not in team.buttons(message):
        message = await team.card(task.key)
    answer = await team.press(message["message_id"], team.buttons(message)["Approve"])
    assert answer["text"].startswith(f"Approved: {task.key}"), answer


async def test_a_chain_of_three_tasks_runs_through_the_pipeline_in_order(team: Team) -> None:
    orch = team.orch
    for title in ("A: add the retry helper", "B: use it in the webhook sender",
                  "C: document the retries"):
        reply = await team.say(f"/new api {title}")
        assert "Created ORCH-" in reply["plain_text"]
    a, b, c = [await orch.pipeline.find(f"ORCH-{n}") for n in (1, 2, 3)]
    for task, dep in ((b, a), (c, b)):
        reply = await team.say(f"/depend {task.key} on {dep.key}")
        assert dep.key in reply["plain_text"], reply["plain_text"]
    await team.settle()
    for task in (a, b, c):
        card = await team.card(task.key)
        answer = await team.press(card["message_id"], team.buttons(card)["Approve"])
        assert "development" in answer["text"], answer
    cards = await card_ids(team, [a, b, c])

    approved: set[int] = set()
    waited: set[str] = set()  # dependents seen approved, waiting, with nothing claimed
    for _ in range(MAX_ROUNDS):
        await orch.loop.settle()
        await team.settle()
        # the dependent's runs first, then its dependency's stage: a run that exists
        # while the dependency is (still) not done was claimed too early
        for task, dep in ((b, a), (c, b)):
            claimed = await runs_of(team, task)
            stage = (await orch.pipeline.get(task.id)).stage
            if (await orch.pipeline.get(dep.id)).stage != DONE:
                assert claimed == [], f"{task.key} ran {claimed} before {dep.key} was done"
                assert stage == "development"
                waited.add(task.key)
        tasks = [await orch.pipeline.get(t.id) for t in (a, b, c)]
        if all(t.stage == DONE for t in tasks):
            break
        waiting = [t for t in tasks if t.stage == "merge" and t.id not in approved]
        for task in waiting:
            await approve_in_merge(team, task, cards)
            approved.add(task.id)
        if not waiting:
            team.clock.advance(BACKOFF_STEP_S)  # a job may wait out a retry's backoff
    else:
        stages = {t.key: (await orch.pipeline.get(t.id)).stage for t in (a, b, c)}
        raise AssertionError(f"not all done after {MAX_ROUNDS} rounds: {stages}")
    await team.settle()

    assert approved == {a.id, b.id, c.id}
    assert waited == {b.key, c.key}
    # claim order: B's developer after A's deployer, C's developer after B's deployer
    for task, dep in ((b, a), (c, b)):
        first, last = (await runs_of(team, task))[0], (await runs_of(team, dep))[-1]
        assert (first[1], last[1]) == ("development", "deploy") and first[0] > last[0]
    assert orch.loop.errors == 0

    messages = pushes(team, cards)
    texts = [m["plain_text"] for m in messages]
    assert not [t for t in texts if t.startswith("📦")], texts  # no digest folded news
    released = [t for t in texts if "unblocked" in t]
    assert released == [f"✅ {b.key} unblocked ({a.key} done)",
                        f"✅ {c.key} unblocked ({b.key} done)"]
    for task in (a, b, c):
        mine = [t for t in texts if t.split(" ", 2)[1:2] == [task.key]]
        assert [t.split(" ", 1)[0] for t in mine] == (
            ["🙋", "🏁"] if task is a else ["✅", "🙋", "🏁"]), mine

    # one push per confirmed change that wants one: approval in merge, release, done
    confirmed = [e for t in (a, b, c) for e in await orch.pipeline.history(t.id)
                 if wants_push(e)]
    kinds = sorted(e.kind.value for e in confirmed)
    assert kinds == sorted([ChangeKind.NEEDS_APPROVAL.value] * 3
                           + [ChangeKind.DEPS_RELEASED.value] * 2
                           + [ChangeKind.DONE.value] * 3)
    assert len(messages) == len(confirmed) == 8
    assert team.emu.stats()["totals"]["rate_limited"] == 0
