"""Answering button presses: at once, never through the group's budget, never raising.

A press handled after Telegram's answer window (after a restart, say) still takes effect
if its card is current; only the answer is skipped, quietly: "query is too old" is an
expected outcome, not an error.
"""

from __future__ import annotations

import logging

from telegram import CallbackQuery
from telegram.error import BadRequest, TelegramError

log = logging.getLogger(__name__)

ANSWER_LIMIT = 200
EXPIRED = ("query is too old", "query id is invalid")
BAD = "That button is not valid any more."
STALE = "This card is out of date — here is the current one."


async def answer(query: CallbackQuery, text: str | None = None, *,
                 show_alert: bool = False) -> bool:
    """True if Telegram took the answer; False (logged, not raised) otherwise."""
    try:
        await query.answer(text[:ANSWER_LIMIT] if text else None, show_alert=show_alert)
    except BadRequest as exc:
        if any(marker in str(exc).lower() for marker in EXPIRED):
            log.debug("press %s answered too late; its effect stands", query.id)
        else:
            log.warning("could not answer press %s: %s", query.id, exc)
        return False
    except TelegramError as exc:
        log.warning("could not answer press %s: %s", query.id, exc)
        return False
    return True
