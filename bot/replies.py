"""Answering in the group: every reply is an outbox row, sent in order within the budget.

A handler records the reply and returns at once; the courier sends it when the group's
budget allows, as a reply to the message that asked.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.chat_sender import markup_json
from bot.context import Services


async def reply(services: Services, update: Update, html_text: str,
                markup: InlineKeyboardMarkup | None = None, *,
                reply_to: int | None = None, lesson: tuple[int, int] | None = None) -> None:
    """Queue a reply (HTML) to the message behind `update`, or to `reply_to`; `lesson`
    (id, version) when it is that lesson's card."""
    message = update.effective_message
    if message is None:
        return
    await services.notifier.say(html_text, markup=markup_json(markup),
                                reply_to=reply_to or message.message_id, lesson=lesson)
