"""/start and /help."""

from __future__ import annotations

from telegram import BotCommand, Update
from telegram.ext import BaseHandler, CommandHandler, ContextTypes

from bot.context import Services
from bot.replies import reply

COMMANDS: list[BotCommand] = [
    BotCommand("queue", "What is where, and why it waits"),
    BotCommand("task", "A task's card: /task KEY"),
    BotCommand("new", "Put a task into the pipeline: /new REPO TITLE"),
    BotCommand("deps", "What a task waits for and who waits for it: /deps KEY"),
    BotCommand("depend", "Make a task wait for another: /depend B on A"),
    BotCommand("undepend", "Stop a task waiting for another: /undepend B on A"),
    BotCommand("lessons", "What went wrong: /lessons [type=…] [status=…] [repo=…] [KEY]"),
    BotCommand("lesson", "One lesson: /lesson ID, or /lesson add TYPE KEY text"),
    BotCommand("whoami", "Your user id and this chat's id (for orch's settings)"),
    BotCommand("help", "What this bot can do"),
    BotCommand("start", "Say hello"),
]


def handlers(services: Services) -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Greets and points at /help."""
        await reply(services, update, "👋 orch moves this team's work through the pipeline. "
                                      "Try /queue, or /help for every command.")

    async def help_(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Lists the commands."""
        lines = [f"/{c.command} — {c.description}" for c in COMMANDS]
        await reply(services, update, "<b>Commands</b>\n" + "\n".join(lines))

    return [CommandHandler("start", start), CommandHandler("help", help_)]
