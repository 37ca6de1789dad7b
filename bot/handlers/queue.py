"""/queue: what is where, and why it waits."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, ContextTypes

from bot import render
from bot.context import Services
from bot.replies import reply


def handlers(services: Services) -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
    async def queue(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Replies with the pipeline grouped by stage, within one message; `/queue fresh`
        rebuilds it instead of answering from the summary cache."""
        fresh = bool(context.args) and context.args[0].lower() == "fresh"
        summary = await services.queue.summary(fresh=fresh)
        await reply(services, update, render.queue(summary.view, summary.stale_for))

    return [CommandHandler("queue", queue)]
