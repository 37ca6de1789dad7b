"""The tracker sync's one button: Confirm on a mass-disappearance alert."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, ContextTypes

from bot.auth import NOT_APPROVER, is_approver
from bot.callbacks import Action, BadButtonData, ButtonCodec, ButtonData, Namespace
from bot.context import Services, actor_of
from core.pipeline.tasks import Actor
from core.sync.vanish import Pause

log = logging.getLogger(__name__)

Confirm = Callable[[int, Actor], Awaitable[tuple[Pause, int] | None]]


def confirm_markup(codec: ButtonCodec, pause: Pause) -> InlineKeyboardMarkup:
    data = codec.encode(ButtonData(Namespace.SYNC, Action.CONFIRM, pause.id, 0))
    return InlineKeyboardMarkup([[InlineKeyboardButton("Confirm", callback_data=data)]])


def handlers(services: Services, confirm: Confirm,
             ) -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
    async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Confirms a paused project's disappearance (approvers only)."""
        query = update.callback_query
        assert query is not None
        try:
            data = services.codec.decode(query.data)
        except BadButtonData as exc:
            log.warning("refused button data from user %s: %s", query.from_user.id, exc)
            await query.answer("That button is not valid any more.")
            return
        if not is_approver(services.settings, query.from_user.id):
            await query.answer(NOT_APPROVER, show_alert=True)
            return
        done = await confirm(data.object_id, actor_of(query.from_user))
        if done is None:
            await query.answer("Confirmed already.")
            return
        pause, cancelled = done
        await query.answer(f"{pause.identifier} resumes; {cancelled} tasks cancelled.")

    return [CallbackQueryHandler(press, pattern=r"^s:")]
