"""Message text rules and the two shapes of a stored message: Bot API and user's view."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .html_text import EntityParseError, FormattedText, parse_html
from .state import Chat, StoredMessage
from .wire import bad_request

MAX_TEXT_LENGTH = 4096


def format_text(text: str, parse_mode: str | None, entities: Any = None) -> FormattedText:
    """Apply parse_mode and the length rules (counted on visible text, in UTF-16 units)."""
    formatted = _parse(text, parse_mode, entities)
    if not formatted.text.strip():
        raise bad_request("message text is empty")
    if formatted.length > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return formatted


def _parse(text: str, parse_mode: str | None, entities: Any) -> FormattedText:
    mode = (parse_mode or "").strip().lower()
    if mode == "html":
        try:
            return parse_html(text)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from exc
    if mode in ("", "markdown", "markdownv2"):
        # Markdown is not parsed: the text is kept verbatim.
        return FormattedText(text, list(entities) if isinstance(entities, list) else [])
    raise bad_request(f"unsupported parse_mode {parse_mode!r}")


def command_entities(text: str) -> list[dict[str, Any]]:
    """The bot_command entity a Telegram client attaches to a leading /command."""
    if not text.startswith("/") or len(text) < 2:
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": len(command)}]


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def message_to_api(chat: Chat, message: StoredMessage, *, nested: bool = False) -> dict[str, Any]:
    """The Bot API Message object for a stored message."""
    result: dict[str, Any] = {
        "message_id": message.message_id,
        "from": message.sender,
        "chat": chat.to_api(),
        "date": epoch(message.date),
        "text": message.plain_text,
    }
    if message.entities:
        result["entities"] = message.entities
    if message.reply_markup and "inline_keyboard" in message.reply_markup:
        result["reply_markup"] = message.reply_markup
    if message.edit_date is not None:
        result["edit_date"] = epoch(message.edit_date)
    if message.message_thread_id is not None:
        result["message_thread_id"] = message.message_thread_id
    replied = chat.messages.get(message.reply_to_message_id or 0)
    if replied is not None and not nested:
        result["reply_to_message"] = message_to_api(chat, replied, nested=True)
    return result


def message_view(message: StoredMessage) -> dict[str, Any]:
    """The message as a user sees it in the chat, plus what the bot sent to produce it."""
    return {
        "message_id": message.message_id,
        "from": message.sender,
        "from_bot": message.from_bot,
        "text": message.text,
        "plain_text": message.plain_text,
        "parse_mode": message.parse_mode,
        "entities": message.entities,
        "reply_markup": message.reply_markup,
        "edit_count": message.edit_count,
        "edited": message.edit_count > 0,
        "date": message.date.isoformat(),
        "edit_date": message.edit_date.isoformat() if message.edit_date else None,
        "reply_to_message_id": message.reply_to_message_id,
        "message_thread_id": message.message_thread_id,
        "disable_notification": message.disable_notification,
    }
