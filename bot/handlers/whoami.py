"""/whoami: the ids orch's settings need, from the people who have them."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, ContextTypes

from bot.auth import is_approver
from bot.context import Services, user_id
from bot.render import esc
from bot.replies import reply


def handlers(services: Services) -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
    async def whoami(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Your user id and this chat's id, and whether you may approve."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        name = f"@{user.username}" if user.username else user.full_name
        may = ("an approver" if is_approver(services.settings, user_id(update))
               else f"not an approver (add {user.id} to ORCH_APPROVERS to become one)")
        await reply(services, update,
                    f"You are {esc(name)}, user id <code>{user.id}</code>: {may}.\n"
                    f"This chat's id is <code>{chat.id}</code> (ORCH_TELEGRAM_CHAT_ID).")

    return [CommandHandler("whoami", whoami)]
