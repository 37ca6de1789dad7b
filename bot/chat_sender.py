"""The courier's Telegram side: one send or edit per call, every outcome named.

Thin on purpose: what to send and when is decided in core/chat; here Telegram's errors
become outcomes ("message is not modified" and a vanished message are expected ones).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from core.chat.model import SendOutcome, SendResult

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class TelegramChatSender:
    """Implements ChatSender for one bot; chat_id None is the team's group."""

    def __init__(self, bot: Bot, group_id: int) -> None:
        self._bot = bot
        self._group = group_id

    async def send(self, chat_id: int | None, text: str, markup: str | None,
                   reply_to: int | None) -> SendResult:
        reply = (ReplyParameters(reply_to, allow_sending_without_reply=True)
                 if reply_to else None)
        try:
            message = await self._bot.send_message(
                chat_id or self._group, text, parse_mode=ParseMode.HTML,
                reply_markup=keyboard(markup), link_preview_options=NO_PREVIEW,
                reply_parameters=reply)
        except TelegramError as exc:
            return _failure(exc)
        return SendResult(SendOutcome.SENT, message.message_id)

    async def edit(self, chat_id: int | None, message_id: int, text: str,
                   markup: str | None) -> SendResult:
        try:
            await self._bot.edit_message_text(
                text, chat_id=chat_id or self._group, message_id=message_id,
                parse_mode=ParseMode.HTML, reply_markup=keyboard(markup),
                link_preview_options=NO_PREVIEW)
        except BadRequest as exc:
            lowered = str(exc).lower()
            if "not modified" in lowered:
                return SendResult(SendOutcome.NOT_MODIFIED, message_id)
            if "not found" in lowered or "can't be edited" in lowered:
                return SendResult(SendOutcome.GONE, detail=str(exc))
            return _failure(exc)
        except TelegramError as exc:
            return _failure(exc)
        return SendResult(SendOutcome.SENT, message_id)


def keyboard(markup: str | None) -> InlineKeyboardMarkup | None:
    return InlineKeyboardMarkup.de_json(json.loads(markup), None) if markup else None


def markup_json(markup: InlineKeyboardMarkup | None) -> str | None:
    """How a keyboard is kept in an outbox row."""
    return json.dumps(markup.to_dict(), sort_keys=True) if markup else None


def _failure(exc: TelegramError) -> SendResult:
    if isinstance(exc, RetryAfter):
        wait = exc.retry_after
        seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
        return SendResult(SendOutcome.RETRY_AFTER, retry_after_s=seconds, detail=str(exc))
    if isinstance(exc, (BadRequest, Forbidden)):
        return SendResult(SendOutcome.REFUSED, detail=str(exc))
    if isinstance(exc, NetworkError):  # timeouts and 5xx included
        return SendResult(SendOutcome.TRANSIENT, detail=str(exc))
    return SendResult(SendOutcome.REFUSED, detail=str(exc))
