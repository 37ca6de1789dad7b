"""What people do on the other side: open chats, write messages, press buttons.

Each action changes the chat and queues the Update the bot will receive from getUpdates.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from .markup import inline_buttons
from .messages import command_entities, message_to_api
from .state import BotState, CallbackRecord, Chat, StoredMessage, WallClock

CHAT_TYPES = ("private", "group", "supergroup")
_query_ids = itertools.count(4_000_000_000_000_000_001)


class ControlError(Exception):
    """A user action that cannot happen (unknown chat, no such button...)."""

    def __init__(self, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.description = description
        self.status = status


@dataclass(frozen=True)
class User:
    """A person writing to the bot."""

    id: int
    first_name: str = "User"
    username: str | None = None
    language_code: str | None = None

    def to_api(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user


def create_chat(
    bot: BotState,
    chat_id: int,
    chat_type: str = "private",
    title: str | None = None,
    *,
    username: str | None = None,
    first_name: str | None = None,
) -> Chat:
    """Make a chat exist (idempotent: an existing chat keeps its messages)."""
    if chat_type not in CHAT_TYPES:
        raise ControlError(f"chat type must be one of {', '.join(CHAT_TYPES)}")
    if (chat_type == "private") != (chat_id > 0):
        raise ControlError("private chats have positive ids, groups negative ones")
    if chat_id in bot.chats:
        return bot.chats[chat_id]
    if chat_type != "private" and not title:
        title = f"Group {chat_id}"
    chat = Chat(chat_id, chat_type, title=title, username=username, first_name=first_name)
    bot.chats[chat_id] = chat
    bot.changed.notify()
    return chat


def user_message(
    bot: BotState,
    clock: WallClock,
    user: User,
    chat_id: int,
    text: str,
    *,
    reply_to_message_id: int | None = None,
    message_thread_id: int | None = None,
) -> tuple[dict[str, Any], int]:
    """A user writes `text`; returns the Bot API message and the update id queued for it."""
    if not text:
        raise ControlError("text is empty")
    chat = bot.chats.get(chat_id) or _chat_for_writer(bot, user, chat_id)
    if reply_to_message_id is not None and reply_to_message_id not in chat.messages:
        raise ControlError(f"message {reply_to_message_id} not found in chat {chat_id}")
    message = StoredMessage(
        message_id=chat.next_message_id(),
        chat_id=chat.id,
        sender=user.to_api(),
        text=text,
        plain_text=text,
        entities=command_entities(text),
        date=clock.now(),
        reply_to_message_id=reply_to_message_id,
        message_thread_id=message_thread_id,
    )
    chat.messages[message.message_id] = message
    chat.remember("message", message, clock.now())
    api_message = message_to_api(chat, message)
    return api_message, bot.push_update("message", api_message)


def _chat_for_writer(bot: BotState, user: User, chat_id: int) -> Chat:
    # Writing in a chat makes it exist, the way a user's first message does.
    if chat_id > 0:
        return create_chat(
            bot, chat_id, "private", username=user.username, first_name=user.first_name
        )
    return create_chat(bot, chat_id, "supergroup")


def press_button(
    bot: BotState,
    clock: WallClock,
    user: User,
    chat_id: int,
    message_id: int,
    callback_data: str,
    *,
    force: bool = False,
) -> tuple[str, int]:
    """A user presses an inline button; returns the callback query id and the update id.

    The button must be on the message's current keyboard (a client shows no other) unless
    `force` simulates a press on a keyboard the client had not refreshed yet.
    """
    chat = bot.chats.get(chat_id)
    message = chat.messages.get(message_id) if chat else None
    if chat is None or message is None:
        raise ControlError(f"message {message_id} not found in chat {chat_id}", 404)
    datas = {b.get("callback_data") for b in inline_buttons(message.reply_markup)}
    if not force and callback_data not in datas:
        raise ControlError(f"message {message_id} has no button with that callback_data")
    query_id = str(next(_query_ids))
    record = CallbackRecord(query_id, chat_id, message_id, callback_data, user.id, clock.now())
    bot.callbacks[query_id] = record
    chat.remember("press", message, clock.now(), record)
    query = {
        "id": query_id,
        "from": user.to_api(),
        "message": message_to_api(chat, message),
        "chat_instance": str(abs(chat_id) * 7919 + 13),
        "data": callback_data,
    }
    return query_id, bot.push_update("callback_query", query)
