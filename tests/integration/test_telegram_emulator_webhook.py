"""The emulator's webhook mode, driven by python-telegram-bot: setWebhook, delivery with
the secret header, in order and never lost, getUpdates refused, getWebhookInfo."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Bot
from telegram.error import BadRequest, Conflict

from app.http_server import serve_asgi
from core.clock import ManualClock
from sandbox.telegram import TelegramEmulator

TOKEN = "4343:emulator-webhook-token"
ALICE = 1001
SECRET = "s3cret_Token-1"


@dataclass
class Receiver:
    """A webhook endpoint that records what reaches it and answers `status`."""

    status: int = 200
    got: list[tuple[dict[str, Any], str | None]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def hook(self, request: Request) -> Response:
        self.got.append((await request.json(),
                         request.headers.get("x-telegram-bot-api-secret-token")))
        self.arrived.set()
        return Response(status_code=self.status)

    async def next(self) -> None:
        await asyncio.wait_for(self.arrived.wait(), 5)
        self.arrived.clear()


@pytest.fixture
def emu() -> TelegramEmulator:
    emulator = TelegramEmulator(clock=ManualClock(), token=TOKEN)
    emulator.create_chat(ALICE, "private", first_name="Alice")
    emulator.webhooks.retry_s = 0.02
    return emulator


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    found = Receiver()
    app = Starlette(routes=[Route("/hook", found.hook, methods=["POST"])])
    async with serve_asgi(app) as url:
        yield found, f"{url}/hook"


@pytest.fixture
async def bot(emu: TelegramEmulator) -> AsyncIterator[Bot]:
    async with emu.serve() as url:
        async with Bot(TOKEN, base_url=f"{url}/bot") as ptb_bot:
            yield ptb_bot


async def test_updates_reach_the_webhook_with_the_secret(
        emu: TelegramEmulator, bot: Bot, receiver: tuple[Receiver, str]) -> None:
    found, url = receiver
    assert await bot.set_webhook(url, secret_token=SECRET)
    emu.user_message(ALICE, "/queue", user_id=ALICE)
    await found.next()

    update, secret = found.got[0]
    assert secret == SECRET and update["message"]["text"] == "/queue"
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count, info.last_error_date) == (url, 0, None)
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()


async def test_a_failing_webhook_keeps_updates_in_order_until_it_answers(
        emu: TelegramEmulator, bot: Bot, receiver: tuple[Receiver, str]) -> None:
    found, url = receiver
    found.status = 500
    await bot.set_webhook(url, secret_token=SECRET)
    for text in ("one", "two"):
        emu.user_message(ALICE, text, user_id=ALICE)
    await found.next()
    await found.next()  # the first update again: it was not settled
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 2 and "500" in (info.last_error_message or "")

    found.status = 200
    while [u["message"]["text"] for u, _ in found.got].count("two") == 0:
        await found.next()

    texts = [u["message"]["text"] for u, _ in found.got]
    assert set(texts[:-1]) == {"one"} and texts[-1] == "two"
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_deleting_the_webhook_brings_polling_back(
        emu: TelegramEmulator, bot: Bot, receiver: tuple[Receiver, str]) -> None:
    await bot.set_webhook(receiver[1])
    assert await bot.delete_webhook()
    emu.user_message(ALICE, "hello", user_id=ALICE)
    updates = await bot.get_updates(timeout=1)
    assert [u.message.text for u in updates if u.message] == ["hello"]
    assert (await bot.get_webhook_info()).url == ""


@pytest.mark.parametrize(("url", "secret", "why"), [
    ("http://bot.example.com/hook", None, "(?i)https url"),
    ("https://bot.example.com:9000/hook", None, "ports"),
    ("https://bot.example.com/hook", "no spaces allowed", "unallowed"),
])
async def test_bad_webhooks_are_refused(bot: Bot, url: str, secret: str | None,
                                        why: str) -> None:
    with pytest.raises(BadRequest, match=why):
        await bot.set_webhook(url, secret_token=secret)
