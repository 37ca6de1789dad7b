"""ChatSender's contract, run against the fake and against Telegram's emulator: what a
send, an edit, an identical edit and an edit of a vanished message come back as."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from bot.app import api_base
from bot.chat_sender import TelegramChatSender
from core.chat.model import SendOutcome
from core.clock import ManualClock
from core.ports import ChatSender
from sandbox.telegram.emulator import DEFAULT_TOKEN, TelegramEmulator
from tests.fakes import FakeSender

GROUP = -1001000
BUTTONS = '{"inline_keyboard": [[{"callback_data": "x", "text": "Approve"}]]}'


@pytest.fixture(params=["fake", "telegram"])
async def sender(request: pytest.FixtureRequest, clock: ManualClock,
                 ) -> AsyncIterator[ChatSender]:
    if request.param == "fake":
        yield FakeSender()
        return
    emu = TelegramEmulator(clock=clock)
    emu.create_chat(GROUP, "supergroup", "Team")
    async with emu.serve() as url:
        async with Bot(DEFAULT_TOKEN, base_url=api_base(url)) as bot:
            yield TelegramChatSender(bot, GROUP)


async def test_a_send_lands_with_a_message_id(sender: ChatSender, clock: ManualClock) -> None:
    sent = await sender.send(None, "<b>hello</b>", BUTTONS, None)
    assert sent.outcome is SendOutcome.SENT and sent.message_id


async def test_edits_land_once_and_identical_edits_are_expected(
        sender: ChatSender, clock: ManualClock) -> None:
    sent = await sender.send(None, "first", None, None)
    assert sent.message_id is not None
    clock.advance(2)
    edited = await sender.edit(None, sent.message_id, "second", BUTTONS)
    assert edited.outcome is SendOutcome.SENT
    clock.advance(2)
    again = await sender.edit(None, sent.message_id, "second", BUTTONS)
    assert again.outcome is SendOutcome.NOT_MODIFIED and again.landed


async def test_an_edit_of_a_message_that_is_not_there_is_gone(sender: ChatSender) -> None:
    gone = await sender.edit(None, 987654, "text", None)
    assert gone.outcome is SendOutcome.GONE and not gone.landed


async def test_telegrams_429_comes_back_as_a_wait_not_an_error(clock: ManualClock) -> None:
    emu = TelegramEmulator(clock=clock)
    emu.create_chat(GROUP, "supergroup", "Team")
    async with emu.serve() as url, Bot(DEFAULT_TOKEN, base_url=api_base(url)) as bot:
        sender = TelegramChatSender(bot, GROUP)
        results = [await sender.send(None, f"m{n}", None, None) for n in range(4)]
    assert [r.outcome for r in results][:3] == [SendOutcome.SENT] * 3
    assert results[3].outcome is SendOutcome.RETRY_AFTER and results[3].retry_after_s >= 1
