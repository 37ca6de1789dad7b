"""A Telegram Bot API emulator that python-telegram-bot talks to unchanged.

    emu = TelegramEmulator(clock=ManualClock())
    async with emu.serve() as url:
        bot = telegram.Bot(DEFAULT_TOKEN, base_url=f"{url}/bot")

It answers in the Bot API's shapes and enforces Telegram's rules (text length after HTML
parsing, HTML validity, callback_data bytes, "not modified", flood limits from the clock).
"""

from __future__ import annotations

from .client import EmulatorControl, EmulatorControlError
from .emulator import DEFAULT_TOKEN, TelegramEmulator
from .flood import FloodLimits
from .html_text import EntityParseError, FormattedText, parse_html, utf16_len
from .server import serve
from .user_actions import ControlError, User

__all__ = [
    "DEFAULT_TOKEN",
    "ControlError",
    "EmulatorControl",
    "EmulatorControlError",
    "EntityParseError",
    "FloodLimits",
    "FormattedText",
    "TelegramEmulator",
    "User",
    "parse_html",
    "serve",
    "utf16_len",
]
