"""A flood in the group does not make anyone wait: presses are answered at once and
applied once, replies queue within the group's budget, an outsider hears one refusal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.runtime import running
from core.clock import ManualClock
from sandbox.team import DEV, GROUP, LEAD, OUTSIDE, Team, sandbox_settings
from sandbox.telegram.emulator import TelegramEmulator

SECOND_APPROVER = 503
HELP_FLOOD = 30
TASKS = 6


@pytest.fixture
async def team(emulator: TelegramEmulator, clock: ManualClock, tmp_path: Path,
               ) -> AsyncIterator[Team]:
    async with emulator.serve() as url:
        settings = sandbox_settings(url, tmp_path / "orch.db",
                                    approvers=frozenset({LEAD, SECOND_APPROVER}))
        async with running(settings, clock, poll_timeout=1) as orch:
            yield Team(emulator, orch, clock)


async def test_presses_are_answered_at_once_while_a_member_floods_the_group(team: Team) -> None:
    for n in range(TASKS):
        await team.say(f"/new api Flood target {n}")
    await team.settle()
    cards = [await team.card(f"ORCH-{n + 1}") for n in range(TASKS)]
    flood = [team.emu.user_message(GROUP, "/help", user_id=DEV)["message"]["message_id"]
             for _ in range(HELP_FLOOD)]
    queries = []
    for n, card in enumerate(cards):  # two approvers, alternating, and one double press
        approver = LEAD if n % 2 else SECOND_APPROVER
        data = team.buttons(card)["Approve"]
        queries.append(team.emu.press_button(GROUP, card["message_id"], data,
                                             user_id=approver, force=True))
        if n == 0:
            queries.append(team.emu.press_button(GROUP, card["message_id"], data,
                                                 user_id=LEAD, force=True))
    pressed_at = team.clock.now()
    answers = [await team.emu.wait_callback_answer(q, within=10) for q in queries]
    # nobody waited behind the thirty replies: the clock has not moved since the presses
    assert team.clock.now() == pressed_at
    assert all(a["text"] for a in answers)
    assert sum("out of date" in a["text"] for a in answers) == 1  # the double press
    for n in range(TASKS):
        task = await team.orch.pipeline.find(f"ORCH-{n + 1}")
        approvals = [e for e in await team.orch.pipeline.history(task.id) if e.kind == "approved"]
        assert task.stage == "development" and len(approvals) == 1
    await team.settle()
    replies = [m for m in team.bot_messages() if m["reply_to_message_id"] in flood]
    assert len(replies) == HELP_FLOOD  # none dropped
    assert [m["reply_to_message_id"] for m in replies] == flood  # and in order
    assert team.emu.busiest_window(GROUP) <= 20
    assert team.emu.stats()["totals"]["rate_limited"] == 0


async def spam_from_outside(team: Team, text: str, times: int) -> int:
    """An outsider sends `times` commands; how many answers the outside chat has then."""
    for _ in range(times):
        team.emu.user_message(OUTSIDE, text, user_id=DEV)
    await team.say("/queue")  # the group is served meanwhile
    await team.orch.inbox.drain()
    await team.settle()
    return len([m for m in team.emu.chat_messages(OUTSIDE) if m["from_bot"]])


async def test_an_outsider_spamming_commands_hears_one_refusal_an_hour(team: Team) -> None:
    assert await spam_from_outside(team, "/new api nope", 50) == 1
    team.clock.advance(3600)
    reply = await team.say("/queue", chat=OUTSIDE, user=DEV)
    assert "one team group" in reply["plain_text"]
    assert await spam_from_outside(team, "/help", 5) == 2
    assert await team.orch.pipeline.open_tasks() == []


async def test_every_press_gets_an_answer_even_with_data_we_never_made(team: Team) -> None:
    await team.say("/new api Pressed oddly")
    await team.settle()
    card = await team.card("ORCH-1")
    for data in ("deadbeef" * 4, '{"a":1}', "t:ap:1", "x:zz:1:1:0000000000"):
        answer = await team.press(card["message_id"], data)
        assert "not valid" in answer["text"]
    assert (await team.orch.pipeline.find("ORCH-1")).stage == "queued"
