"""Task card buttons: Approve, Unblock, Retry, Cancel.

The answer to the press is the first and only Telegram call on every path, made at
once: before it only the button data is checked and, for a valid press, one local
compare-and-set is made, so the answer can say what happened. Card refreshes go through
the outbox. A press with data we do not know still gets an answer (`fallback`).
"""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, ContextTypes

from bot.answers import BAD, STALE, answer
from bot.callbacks import Action, ButtonData, Namespace
from bot.context import Services, actor_of
from bot.presses import approved_press
from core.errors import DomainError, IllegalTransition, StaleVersion
from core.pipeline.stages import QUEUED
from core.pipeline.tasks import Actor, Task

log = logging.getLogger(__name__)


def handlers(services: Services) -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
    async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Applies the pressed action if the card is current and the user may."""
        pressed = await approved_press(services, update, Namespace.TASK)
        if pressed is not None:
            query, data = pressed
            await answer(query, await _apply(services, query, data))

    return [CallbackQueryHandler(press, pattern=r"^t:")]


def fallback() -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
    """Presses no feature claimed (random hex, JSON, old formats): answered, not ignored."""

    async def unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Says the button is not valid, so the user's spinner stops."""
        query = update.callback_query
        assert query is not None
        log.warning("refused unknown button data from user %s", query.from_user.id)
        await answer(query, BAD)

    return [CallbackQueryHandler(unknown)]


async def _apply(services: Services, query: CallbackQuery, data: ButtonData) -> str:
    actor = actor_of(query.from_user)
    try:
        task = await _dispatch(services, data, actor)
    except StaleVersion:
        services.notifier.refresh(data.object_id)
        return STALE
    except DomainError as exc:
        services.notifier.refresh(data.object_id)
        return str(exc)[:200]
    if data.action is Action.APPROVE and task.stage != QUEUED and task.stage in (
            services.pipeline.stages.active):
        return f"Approved: {task.key} moves on from {task.stage} once its work is done."
    return f"{task.key}: {task.stage}."


async def _dispatch(services: Services, data: ButtonData, actor: Actor) -> Task:
    pipeline, task_id, version = services.pipeline, data.object_id, data.version
    match data.action:
        case Action.APPROVE:
            return await pipeline.approve(task_id, actor, expected_version=version,
                                          reason=f"approved by {actor.label}")
        case Action.UNBLOCK:
            return await pipeline.unblock(task_id, actor, expected_version=version)
        case Action.RETRY:
            return await services.engine.retry(task_id, actor, expected_version=version)
        case Action.CANCEL:
            return await pipeline.cancel(task_id, actor, "cancelled from the chat",
                                         expected_version=version)
    raise IllegalTransition("That action is not available on task cards.")
