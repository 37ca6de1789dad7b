"""The one error handler: full traceback to the log, a plain sentence to the chat."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ContextTypes

log = logging.getLogger(__name__)

APOLOGY = "Something went wrong on our side; it has been logged. Nothing was changed twice."


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Logs the exception; tells the chat only that something failed, never what."""
    log.error("handler failed", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        try:
            await update.effective_message.reply_text(APOLOGY)
        except Exception:  # the error path must not raise again
            log.exception("could not tell the chat about an error")
