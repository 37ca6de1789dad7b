"""The one error handler: full traceback to the log, a plain sentence to the team's group.

Errors never reach another chat, and expected Telegram outcomes are not errors.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from bot.answers import answer
from bot.context import Services

log = logging.getLogger(__name__)

APOLOGY = "Something went wrong on our side; it has been logged. Nothing was changed twice."
EXPECTED = ("query is too old", "query id is invalid", "message is not modified")

ErrorHandler = Callable[[object, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


def on_error(services: Services) -> ErrorHandler:
    async def handle(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Logs the exception; tells the group only that something failed, never what."""
        error = context.error
        if isinstance(error, BadRequest) and any(m in str(error).lower() for m in EXPECTED):
            log.debug("expected Telegram outcome: %s", error)
            return
        log.error("handler failed", exc_info=error)
        if not isinstance(update, Update) or update.effective_chat is None:
            return
        if update.effective_chat.id != services.settings.telegram_chat_id:
            return  # never into a chat that is not the team's
        if update.callback_query is not None:  # the spinner stops; the group hears nothing
            await answer(update.callback_query, APOLOGY)
            return
        message = update.effective_message
        try:
            await services.notifier.say(APOLOGY, reply_to=message.message_id if message
                                        else None)
        except Exception:  # the error path must not raise again
            log.exception("could not tell the group about an error")

    return handle
