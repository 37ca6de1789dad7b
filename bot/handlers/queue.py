"""/queue: what is where, and why it waits."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, ContextTypes

from bot import render
from bot.context import Services
from bot.replies import reply


def handlers(services: Services) -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
    async def queue(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Replies with the pipeline grouped by stage, within one message."""
        view = await services.queue.snapshot()
        await reply(services, update, render.queue(view))

    return [CommandHandler("queue", queue)]
