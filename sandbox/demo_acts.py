"""The demo's three acts; each returns one bool per expectation it checks on the way."""

from __future__ import annotations

from typing import Any

from core.lessons.journal import LessonFilter
from core.pipeline.tasks import Actor
from sandbox.plane import PlaneEmulator
from sandbox.plane_team import PlaneStep, plane_morning, play
from sandbox.team import DEV, LEAD, OUTSIDE, Team
from sandbox.transcript import Transcript

RECONCILE_EVERY_S = 120


async def look(team: Team, minutes: float = 1) -> None:
    """Let time pass and orch say all it has to say before anyone does anything else."""
    team.clock.advance(minutes * 60)
    await team.settle()


async def say(team: Team, text: str, **where: int) -> dict[str, Any]:
    """A person writes; orch answers and sends what follows (a card) before the next."""
    reply = await team.say(text, **where)
    await team.settle()
    return reply


async def press(team: Team, key: str, label: str, *, user: int = LEAD) -> str:
    card = await team.card(key)
    answer = await team.press(card["message_id"], team.buttons(card)[label], user=user)
    await team.settle()
    return str(answer.get("text", ""))


async def chat_morning(team: Team, out: Transcript, agent: Actor) -> list[bool]:
    """Act 1: the chat alone (the job loop is not driven yet, so nothing runs)."""
    checks: list[bool] = []
    out.note("— act 1: the chat —")
    await say(team, "/new api Add retry to the webhook sender")
    await say(team, '/new web "Dark mode toggle"')
    await say(team, "/new api Rotate the signing keys")
    await look(team)
    one = await team.card("ORCH-1")
    await press(team, "ORCH-1", "Approve")
    await look(team)
    await press(team, "ORCH-2", "Approve", user=DEV)
    checks.append((await team.orch.pipeline.find("ORCH-2")).stage == "queued")
    await press(team, "ORCH-2", "Approve")
    await look(team, 5)
    task = await team.orch.pipeline.find("ORCH-2")
    out.note("(an agent reports) ORCH-2 is waiting for the design review")
    await team.orch.pipeline.block(task.id, agent, "waiting for the design review")
    await look(team, 2)
    await press(team, "ORCH-2", "Unblock")
    checks.append((await team.orch.pipeline.find("ORCH-2")).stage == "development")
    await look(team)
    stale = await team.press(one["message_id"], team.buttons(one)["Approve"])
    await team.settle()
    checks.append("out of date" in stale.get("text", ""))
    await press(team, "ORCH-3", "Cancel")
    checks.append((await team.orch.pipeline.find("ORCH-3")).stage == "cancelled")
    await look(team)
    refusal = await say(team, "/queue", chat=OUTSIDE, user=DEV)
    out.note(f"(in another group) dev: /queue → orch: {refusal['plain_text']}")
    checks.append("one team group" in refusal["plain_text"])
    await say(team, "/queue")
    await look(team)
    return checks


async def plane_act(team: Team, out: Transcript, plane: PlaneEmulator,
                    project: str) -> list[bool]:
    """Act 2: people work in Plane; orch follows on its reconcile tick."""
    out.note("— act 2: the team works in Plane —")
    sync = team.orch.tracker
    assert sync is not None

    async def catch_up(step: PlaneStep) -> None:
        out.note(f"(in Plane) {step.who} {step.says}")
        team.clock.advance(RECONCILE_EVERY_S)
        await sync.reconciler.tick()
        await look(team, 0)

    await play(plane, plane_morning(project), catch_up)
    pipeline = team.orch.pipeline
    return [(await pipeline.find(f"{project}-1")).stage == "done",
            sync.reconciler.stats.skipped_terminal_total >= 1]


async def agents_at_work(team: Team, out: Transcript) -> list[bool]:
    """Act 3: script agents do the work; a gate fails, a lesson is kept, a dependency
    is released; Approve in merge lets each deploy go."""
    out.note("— act 3: the pipeline at work (script agents in throwaway git repos) —")
    await say(team, "/new api Add rate limiting [fail-tests]")
    await say(team, "/new api Document the rate limits")
    await say(team, "/depend ORCH-5 on ORCH-4")
    await look(team)
    for key in ("ORCH-4", "ORCH-5"):
        await press(team, key, "Approve")
    await work(team)
    checks = [(await team.orch.pipeline.find("ORCH-5")).stage == "development"]
    await say(team, "/queue")
    await until_done(team, ("ORCH-4", "ORCH-5"))
    checks.append((await team.orch.pipeline.find("ORCH-5")).stage == "done")
    checks += await read_the_lesson(team)
    checks.append(team.emu.stats()["totals"]["rate_limited"] == 0)
    return checks


async def work(team: Team) -> None:
    """Let the job loop run agents, one round at a time with the chat caught up after
    each (the group sees every step), until nothing more happens without a person."""
    for _ in range(60):
        report = await team.orch.loop.run_once()
        await look(team, 1)
        if report.quiet:
            return


async def until_done(team: Team, keys: tuple[str, ...]) -> None:
    """Approve each task when it waits in merge, until all of them are done."""
    for _ in range(12):
        waiting = [k for k in keys if (await team.orch.pipeline.find(k)).stage == "merge"]
        for key in waiting:
            await press(team, key, "Approve")
        await work(team)
        stages = [(await team.orch.pipeline.find(k)).stage for k in keys]
        if all(stage == "done" for stage in stages):
            return


async def read_the_lesson(team: Team) -> list[bool]:
    """/lessons lists the gate failure; its card's Close button closes it."""
    listing = await say(team, "/lessons")
    found = await team.orch.lessons.get(LessonFilter(lesson_type="gate_failure", limit=1))
    if not found:
        return [False]
    card = await say(team, f"/lesson {found[0].id}")
    await team.press(card["message_id"], team.buttons(card)["Close"])
    await look(team, 0)
    closed = await team.orch.lessons.get(LessonFilter(status="closed"))
    return ["gate_failure" in listing["plain_text"], len(closed) == 1]
