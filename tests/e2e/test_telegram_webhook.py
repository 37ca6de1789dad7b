"""Webhook mode end to end: orch registers its webhook with the emulator, the group's
messages arrive on orch's HTTP server, and a call without the secret changes nothing."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.runtime import running
from app.telegram_webhook import describe
from core.clock import ManualClock
from sandbox.team import GROUP, LEAD, Team, sandbox_settings
from sandbox.telegram.emulator import TelegramEmulator


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def hooked(emulator: TelegramEmulator, clock: ManualClock,
                 tmp_path: Path) -> AsyncIterator[tuple[Team, str]]:
    emulator.webhooks.retry_s = 0.05
    port = free_port()
    hook = f"http://127.0.0.1:{port}/hooks/telegram"
    async with emulator.serve() as url:
        settings = sandbox_settings(url, tmp_path / "orch.db", http_port=port,
                                    telegram_webhook_url=hook)
        async with running(settings, clock, poll_timeout=1) as orch:
            yield Team(emulator, orch, clock), hook


async def test_updates_arrive_by_webhook_and_are_answered(
        hooked: tuple[Team, str]) -> None:
    team, hook = hooked
    reply = await team.say("/new api Arrived by webhook")
    assert "ORCH-1" in reply["plain_text"]
    assert team.emu.calls("getUpdates") == []  # nothing polled
    info = await team.orch.app.bot.get_webhook_info()
    assert describe(info) == f"webhook {hook} · 0 pending"


@pytest.mark.parametrize("secret", [None, "", "guessed-secret"])
async def test_a_call_without_the_right_secret_is_refused_and_changes_nothing(
        hooked: tuple[Team, str], secret: str | None) -> None:
    team, hook = hooked
    forged = {"update_id": 999_999, "message": {
        "message_id": 77, "date": 1_790_000_000, "text": "/new api Forged",
        "chat": {"id": GROUP, "type": "supergroup", "title": "Team"},
        "from": {"id": LEAD, "is_bot": False, "first_name": "Lead"},
        "entities": [{"type": "bot_command", "offset": 0, "length": 4}]}}
    headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
    async with httpx.AsyncClient() as client:
        answer = await client.post(hook, json=forged, headers=headers)

    assert answer.status_code == 401
    await team.say("/queue")  # a real update after it: the forged one is long ignored
    assert await team.orch.pipeline.open_tasks() == []
    assert not [m for m in team.bot_messages() if "Forged" in m["plain_text"]]
