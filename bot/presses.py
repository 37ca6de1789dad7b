"""The checks every button press passes before its feature acts on it."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Update

from bot.answers import BAD, answer
from bot.auth import NOT_APPROVER, is_approver
from bot.callbacks import BadButtonData, ButtonData, Namespace
from bot.context import Services

log = logging.getLogger(__name__)


async def approved_press(services: Services, update: Update, namespace: Namespace,
                         ) -> tuple[CallbackQuery, ButtonData] | None:
    """The press and its data when the data is ours and of `namespace` and the presser is
    an approver; otherwise the press is answered here with why not, and None."""
    query = update.callback_query
    assert query is not None
    try:
        data = services.codec.decode(query.data)
    except BadButtonData as exc:
        log.warning("refused button data from user %s: %s", query.from_user.id, exc)
        await answer(query, BAD)
        return None
    if data.namespace is not namespace:
        await answer(query, BAD)
        return None
    if not is_approver(services.settings, query.from_user.id):
        await answer(query, NOT_APPROVER, show_alert=True)
        return None
    return query, data
