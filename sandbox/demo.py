"""`orch demo`: a short scripted morning of a team, against the local sandbox.

Starts the Telegram emulator on 127.0.0.1, runs orch against it with a throwaway
SQLite file and a manual clock (so the morning takes seconds), plays the script and
prints the group chat as a person would read it, then a one-line summary.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from bot.runtime import running
from core.clock import ManualClock
from core.tasks import Actor
from sandbox.team import DEV, GROUP, LEAD, OUTSIDE, Team, sandbox_settings
from sandbox.telegram.emulator import TelegramEmulator
from sandbox.transcript import Transcript

NAMES = {LEAD: "lead", DEV: "dev"}
AGENT = Actor("engine", "", "the pipeline")


async def run_demo(*, quiet: bool = False) -> int:
    """Play the morning; print the transcript and a summary; 0 when it all went as planned."""
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    clock = ManualClock()
    emu = TelegramEmulator(clock=clock)
    emu.create_chat(GROUP, "supergroup", "Team")
    emu.create_chat(OUTSIDE, "group", "Somebody else's group")
    with tempfile.TemporaryDirectory(prefix="orch-demo-") as folder:
        async with emu.serve() as url:
            settings = sandbox_settings(url, Path(folder) / "orch.db")
            async with running(settings, clock, poll_timeout=1) as orch:
                team = Team(emu, orch, clock, dict(NAMES))
                transcript = Transcript(clock, dict(NAMES))
                checks = await morning(team, transcript)
    if not quiet:
        print(transcript.render())
    stats = emu.stats()["totals"]
    print(f"demo: {'ok' if all(checks) else 'FAILED'} · {sum(checks)}/{len(checks)} checks · "
          f"{stats['sent']} messages sent, {stats['edits']} edits, "
          f"{stats['rate_limited']} rate-limited · {time.monotonic() - started:.1f}s")
    return 0 if all(checks) else 1


async def morning(team: Team, out: Transcript) -> list[bool]:
    """The script; returns one bool per expectation it checks along the way."""
    checks: list[bool] = []

    async def step(minutes: float = 1) -> None:
        team.clock.advance(minutes * 60)
        await team.settle()
        out.look(team.group())

    out.note("— 09:00, the team opens the group —")
    await team.say("/new api Add retry to the webhook sender")
    await team.say("/new web Dark mode toggle")
    await team.say("/new api Rotate the signing keys")
    await step()
    one = await team.card("ORCH-1")
    answer = await team.press(one["message_id"], team.buttons(one)["Approve"])
    out.pressed(LEAD, "Approve", "ORCH-1", answer)
    await step()
    two = await team.card("ORCH-2")
    answer = await team.press(two["message_id"], team.buttons(two)["Approve"], user=DEV)
    out.pressed(DEV, "Approve", "ORCH-2", answer)
    checks.append((await team.orch.pipeline.find("ORCH-2")).stage == "queued")
    answer = await team.press(two["message_id"], team.buttons(two)["Approve"])
    out.pressed(LEAD, "Approve", "ORCH-2", answer)
    await step(5)
    task = await team.orch.pipeline.find("ORCH-2")
    await team.orch.pipeline.block(task.id, AGENT, "agent timed out 3 of 3 tries")
    await step(2)
    two = await team.card("ORCH-2")
    answer = await team.press(two["message_id"], team.buttons(two)["Unblock"])
    out.pressed(LEAD, "Unblock", "ORCH-2", answer)
    checks.append((await team.orch.pipeline.find("ORCH-2")).stage == "development")
    await step()
    answer = await team.press(one["message_id"], team.buttons(one)["Approve"])
    out.pressed(LEAD, "Approve (an old card)", "ORCH-1", answer)
    checks.append("out of date" in answer.get("text", ""))
    three = await team.card("ORCH-3")
    answer = await team.press(three["message_id"], team.buttons(three)["Cancel"])
    out.pressed(LEAD, "Cancel", "ORCH-3", answer)
    checks.append((await team.orch.pipeline.find("ORCH-3")).stage == "cancelled")
    await step()
    refusal = await team.say("/queue", chat=OUTSIDE, user=DEV)
    out.note(f"(in another group) dev: /queue → orch: {refusal['plain_text']}")
    checks.append("one team group" in refusal["plain_text"])
    await team.say("/queue")
    await step()
    checks.append(team.emu.stats()["totals"]["rate_limited"] == 0)
    return checks
