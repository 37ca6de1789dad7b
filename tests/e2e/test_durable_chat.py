"""What orch was told while it was down is handled once it is back; buttons stay true."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.runtime import running
from core.clock import ManualClock
from core.pipeline.tasks import ENGINE
from sandbox.team import GROUP, LEAD, Team, sandbox_settings
from sandbox.telegram.emulator import TelegramEmulator


async def test_a_press_made_while_orch_was_down_still_counts_and_its_late_answer_is_quiet(
        emulator: TelegramEmulator, clock: ManualClock, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "orch.db"
    async with emulator.serve() as url:
        async with running(sandbox_settings(url, db), clock, poll_timeout=1) as orch:
            team = Team(emulator, orch, clock)
            await team.say("/new api Pressed in the dark")
            await team.settle()
            card = await team.card("ORCH-1")
        query = emulator.press_button(GROUP, card["message_id"], team.buttons(card)["Approve"],
                                      user_id=LEAD, first_name="Lena")
        emulator.user_message(GROUP, "/new api Typed in the dark", user_id=LEAD)
        clock.advance(60)  # well past Telegram's answer window
        with caplog.at_level(logging.WARNING):
            async with running(sandbox_settings(url, db), clock, poll_timeout=1) as orch:
                team = Team(emulator, orch, clock)
                await emulator.wait_for(lambda: len(emulator.calls("answerCallbackQuery")) > 0)
                await orch.inbox.drain()
                await team.settle()
                assert (await orch.pipeline.find("ORCH-1")).stage == "development"
                assert (await orch.pipeline.find("ORCH-2")).title == "Typed in the dark"
    assert emulator.callback_answer(query) is None  # too late to answer: skipped
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if "could not answer" in r.getMessage()]


async def test_a_push_whose_buttons_no_longer_apply_says_what_happened(team: Team) -> None:
    team.names[LEAD] = "Lena"
    await team.say("/new api Needs a person")
    await team.settle()
    task = await team.orch.pipeline.find("ORCH-1")
    agent = team.orch.pipeline
    await agent.approve(task.id, ENGINE)
    for _ in range(3):  # development → review → testing → merge (needs a person)
        task = await agent.advance(task.id, ENGINE)
    await team.settle()
    push = next(m for m in team.bot_messages() if m["plain_text"].startswith("🙋"))
    await team.press(push["message_id"], team.buttons(push)["Approve"])
    await team.settle()
    retired = next(m for m in team.group() if m["message_id"] == push["message_id"])
    assert not retired["reply_markup"]
    assert "approved by Lena at" in retired["plain_text"]
    # the history (and the gate that lets the task leave merge) names her too
    approval = (await agent.history(task.id))[-1]
    assert (approval.kind, approval.reason) == ("approved", "approved by @Lena")


async def test_task_command_never_posts_a_copy_with_live_buttons(team: Team) -> None:
    await team.say("/new api Looked at")
    await team.settle()
    card = await team.card("ORCH-1")
    reply = await team.say("/task ORCH-1")
    assert not reply["reply_markup"]
    assert f"t.me/c/1000/{card['message_id']}" in str(reply)
    assert "its card" in reply["plain_text"]
