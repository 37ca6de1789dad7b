"""The tracker sync's one button: Confirm on a mass-disappearance alert."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, ContextTypes

from bot.answers import answer
from bot.callbacks import Action, ButtonCodec, ButtonData, Namespace
from bot.context import Services, actor_of
from bot.presses import approved_press
from core.pipeline.tasks import Actor
from core.sync.vanish import Pause

Confirm = Callable[[int, Actor], Awaitable[tuple[Pause, int] | None]]


def confirm_markup(codec: ButtonCodec, pause: Pause) -> InlineKeyboardMarkup:
    data = codec.encode(ButtonData(Namespace.SYNC, Action.CONFIRM, pause.id, 0))
    return InlineKeyboardMarkup([[InlineKeyboardButton("Confirm", callback_data=data)]])


def handlers(services: Services, confirm: Confirm,
             ) -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
    async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Confirms a paused project's disappearance (approvers only)."""
        pressed = await approved_press(services, update, Namespace.SYNC)
        if pressed is None:
            return
        query, data = pressed
        done = await confirm(data.object_id, actor_of(query.from_user))
        if done is None:
            await answer(query, "Confirmed already.")
            return
        pause, cancelled = done
        await answer(query, f"{pause.identifier} resumes; {cancelled} tasks cancelled.")

    return [CallbackQueryHandler(press, pattern=r"^s:")]
