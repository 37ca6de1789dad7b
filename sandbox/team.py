"""A team in a sandboxed Telegram group talking to a real orch over HTTP.

Used by the demo and the end-to-end tests. `settle()` is the one way they wait: it lets
the notifier do all it can, moves the manual clock exactly as far as the send budget
needs, and repeats until nothing is pending. Nothing sleeps.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.runtime import Orch
from core.clock import ManualClock
from core.config import AgentCommand, Settings
from sandbox.telegram.emulator import DEFAULT_TOKEN, TelegramEmulator

GROUP = -1001000
OUTSIDE = -1002000
LEAD = 501
DEV = 502
WAIT_S = 10.0
HUMAN_PACE_S = 1.5


AGENTS_DIR = Path(__file__).parent / "agents"


def sandbox_agents() -> dict[str, AgentCommand]:
    """The script agents shipped in sandbox/agents, one per role, runnable anywhere. No
    stall timeout: the sandbox's clock jumps by minutes while a script may be starting."""
    return {role: AgentCommand((sys.executable, str(AGENTS_DIR / f"{role}.py"),
                                "{prompt_file}"), timeout_s=60.0, stall_timeout_s=0)
            for role in ("developer", "reviewer", "tester", "deployer")}


def sandbox_settings(url: str, db_path: Path, **overrides: object) -> Settings:
    """Settings for orch against the emulator at `url`: the team group, LEAD approves."""
    values: dict[str, object] = {
        "telegram_token": DEFAULT_TOKEN, "telegram_chat_id": GROUP,
        "approvers": frozenset({LEAD}), "telegram_api_url": url, "db_path": str(db_path),
        # PTB's limiter waits in real seconds; the manual clock drives our own budget.
        "telegram_rate_limiter": False,
        # chat-only scenarios: tasks stay where people put them; agents are opted into
        "jobs_enabled": False,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class Team:
    emu: TelegramEmulator
    orch: Orch
    clock: ManualClock
    names: dict[int, str] = field(default_factory=dict)

    async def say(self, text: str, *, user: int = LEAD, chat: int = GROUP) -> dict[str, Any]:
        """A user writes in a chat; returns the bot's reply to that message."""
        self.clock.advance(HUMAN_PACE_S)  # people type; a frozen clock would be a flood
        name = self.names.get(user, f"user{user}")
        sent = self.emu.user_message(chat, text, user_id=user, first_name=name, username=name)
        message_id = sent["message"]["message_id"]
        return await self.reply_to(chat, message_id)

    async def reply_to(self, chat: int, message_id: int) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def replied() -> bool:
            found[:] = [m for m in self.emu.chat_messages(chat)
                        if m["from_bot"] and m["reply_to_message_id"] == message_id]
            return bool(found)

        # replies go through the outbox within the group's budget: move the clock as far
        # as the budget needs, never further
        for _ in range(int(WAIT_S / 0.05)):
            if await self.emu.wait_for(replied, 0.05):
                return found[0]
            wait = self.orch.notifier.seconds_until_ready()
            if wait > 0:
                self.clock.advance(wait)
        raise AssertionError(f"no reply to message {message_id} in chat {chat}")

    async def press(self, message_id: int, data: str, *, user: int = LEAD,
                    chat: int = GROUP) -> dict[str, Any]:
        """A user presses a button; returns the bot's answerCallbackQuery parameters."""
        self.clock.advance(HUMAN_PACE_S)
        name = self.names.get(user, f"user{user}")
        query_id = self.emu.press_button(chat, message_id, data, user_id=user,
                                         first_name=name, username=name, force=True)
        return await self.emu.wait_callback_answer(query_id, WAIT_S)

    async def settle(self, rounds: int = 500) -> None:
        """Let the handlers in flight finish and the courier send everything, moving the
        clock only as the budget needs."""
        notifier = self.orch.notifier
        for _ in range(rounds):
            await asyncio.wait_for(self.orch.inbox.drain(), WAIT_S)  # e.g. after an answer
            await asyncio.wait_for(notifier.wait_resting(), WAIT_S)
            if notifier.idle:
                return
            self.clock.advance(max(notifier.seconds_until_ready(), 0.01))
        raise AssertionError("the notifier did not settle")

    def group(self) -> list[dict[str, Any]]:
        return self.emu.chat_messages(GROUP)

    def bot_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.group() if m["from_bot"]]

    async def card(self, key: str) -> dict[str, Any]:
        """The group message that is the card of task `key`."""
        task = await self.orch.pipeline.find(key)
        card = await self.orch.notifier.card_of(task.id)
        assert card is not None, f"{key} has no card"
        return next(m for m in self.group() if m["message_id"] == card.message_id)

    def buttons(self, message: dict[str, Any]) -> dict[str, str]:
        """{label: callback_data} of a message's inline keyboard."""
        markup = message.get("reply_markup") or {}
        return {b["text"]: b["callback_data"]
                for row in markup.get("inline_keyboard", []) for b in row}
