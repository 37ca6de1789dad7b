"""`orch doctor --listen`: print who writes to the bot, and from which chat.

The first hour's chicken and egg: orch needs the group's chat id and the approvers' user
ids, and Telegram shows neither. With only the token set, this polls the bot and prints
the chat id, chat title and the sender's id of every message it receives until it has
seen `count` of them or `seconds` have passed. What it reads is confirmed to Telegram,
so the orch that runs later does not answer those setup messages again.
"""

from __future__ import annotations

import asyncio
import time

from telegram import Bot, Update
from telegram.error import InvalidToken, TelegramError

from app import logs
from bot.app import api_base
from core.config import Settings
from core.settings.show import secrets_of


async def listen(settings: Settings, *, seconds: float = 120.0, count: int = 10,
                 poll_s: int = 5) -> int:
    """0 when at least one message was seen, 1 otherwise (or when Telegram refused)."""
    if not settings.telegram_token:
        print("orch: setting ORCH_TELEGRAM_TOKEN is required to listen")
        return 2
    redact = logs.RedactSecrets(secrets_of(settings)).redact
    try:
        async with Bot(settings.telegram_token,
                       base_url=api_base(settings.telegram_api_url)) as bot:
            _introduce(bot)
            seen = await _poll(bot, time.monotonic() + seconds, count, poll_s)
    except InvalidToken:
        print("telegram: the token was refused")
        return 1
    except TelegramError as exc:
        print(f"telegram: {redact(str(exc))}")
        return 1
    if not seen:
        print("nothing arrived: is the bot in the group, and did someone send /whoami?")
    return 0 if seen else 1


def _introduce(bot: Bot) -> None:
    me = bot.bot
    print(f"listening as @{me.username}: send /whoami@{me.username} in the team group "
          "(and in a private chat with the bot, to see your own user id); Ctrl-C stops")
    if not me.can_read_all_group_messages:
        print("privacy mode is on: in groups the bot sees commands only, which is all orch "
              "needs; plain messages will not show up here")


async def _poll(bot: Bot, deadline: float, count: int, poll_s: int) -> int:
    offset: int | None = None
    seen = 0
    while seen < count and time.monotonic() < deadline:
        remaining = max(1, min(poll_s, int(deadline - time.monotonic())))
        updates = await bot.get_updates(offset=offset, timeout=remaining,
                                        allowed_updates=["message", "callback_query"])
        for update in updates:
            offset = update.update_id + 1
            line = describe(update)
            if line:
                print(line)
                seen += 1
        await asyncio.sleep(0)
    return seen


def describe(update: Update) -> str | None:
    """One line: the chat (id, type, title) and the sender (id, name)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return None
    title = chat.title or chat.full_name or ""
    who = f"@{user.username}" if user.username else user.full_name
    text = update.effective_message.text if update.effective_message else ""
    return (f"chat {chat.id} ({chat.type}{': ' + title if title else ''}) · "
            f"user {user.id} ({who}) · {(text or '')[:40]!r}")
