"""What a Bot API method sees: the bot's state, the clock and the limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .flood import FloodLimits
from .state import BotState, Chat, StoredMessage, WallClock
from .wire import ApiError, Params, bad_request


@dataclass
class MethodContext:
    """The bot a call is for, with helpers shared by the methods."""

    bot: BotState
    clock: WallClock
    limits: FloodLimits

    def now(self) -> datetime:
        return self.clock.now()

    def chat(self, chat_ref: int | str | None) -> Chat:
        """Resolve an id or @username; unknown chats are a 400 as in Telegram."""
        if isinstance(chat_ref, str):
            name = chat_ref.removeprefix("@").lower()
            for chat in self.bot.chats.values():
                if (chat.username or "").lower() == name:
                    return chat
        elif chat_ref is not None and chat_ref in self.bot.chats:
            return self.bot.chats[chat_ref]
        raise bad_request("chat not found")

    def message_to_edit(self, params: Params) -> tuple[Chat, StoredMessage]:
        if params.has("inline_message_id"):
            raise bad_request("inline messages are not supported by the emulator")
        chat = self.chat(params.chat_id())
        message_id = params.integer("message_id", required=True)
        message = chat.messages.get(message_id or 0)
        if message is None:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return chat, message

    def throttle(self, chat_id: int) -> None:
        """Raise 429 if a message to `chat_id` now would break a flood limit."""
        retry_after = self.bot.flood.retry_after(chat_id, self.now())
        if retry_after is not None:
            raise ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )

    def count_message(self, chat_id: int, *, edit: bool) -> None:
        """A send or edit went out: it uses flood budget and shows in the stats."""
        self.bot.flood.record(chat_id, self.now())
        stats = self.bot.chat_stats(chat_id)
        if edit:
            stats.edits += 1
        else:
            stats.sent += 1
        self.bot.changed.notify()


Method = Callable[[MethodContext, Params], Awaitable[Any]]
