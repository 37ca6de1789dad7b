"""Who the bot serves: one team group, and approvers for anything that changes state."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, ContextTypes, TypeHandler

from bot.answers import answer
from core.chat.courier import Courier
from core.config import Settings

log = logging.getLogger(__name__)

OUTSIDE_CHAT = "This bot works for one team group only. Nothing was done here."
NOT_APPROVER = "Only approvers can do that. Ask one of the team's approvers."


def is_approver(settings: Settings, user_id: int | None) -> bool:
    return user_id is not None and user_id in settings.approvers


def chat_guard(settings: Settings, courier: Courier,
               ) -> BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]:
    """A first-group handler: another chat gets one refusal an hour (kept in SQLite)."""

    async def guard(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None or chat.id == settings.telegram_chat_id:
            return
        log.info("refused an update from chat %s", chat.id)
        if update.callback_query is not None:
            await answer(update.callback_query, OUTSIDE_CHAT)
        elif update.effective_message is not None:
            await courier.refuse(chat.id, OUTSIDE_CHAT, update.effective_message.message_id)
        raise ApplicationHandlerStop

    return TypeHandler(Update, guard)
