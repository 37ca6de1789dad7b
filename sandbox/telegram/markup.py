"""Reply markup checks: inline keyboards must be buttons Telegram would accept."""

from __future__ import annotations

from typing import Any

from .wire import bad_request

CALLBACK_DATA_MAX_BYTES = 64

# The fields that make a button do something; exactly one must be set.
BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

_OTHER_MARKUPS = ("keyboard", "remove_keyboard", "force_reply")


def validate_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Return the markup if Telegram would accept it, else raise a 400 ApiError."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _validate_inline_keyboard(markup["inline_keyboard"])
        return markup
    if any(key in markup for key in _OTHER_MARKUPS):
        return markup
    raise bad_request("can't parse reply keyboard markup JSON object")


def inline_buttons(markup: dict[str, Any] | None) -> list[dict[str, Any]]:
    """All buttons of an inline keyboard, row by row."""
    if not markup or "inline_keyboard" not in markup:
        return []
    return [button for row in markup["inline_keyboard"] for button in row]


def _validate_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    for row in rows:
        for button in row:
            _validate_button(button)


def _validate_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad_request("can't parse inline keyboard button: InlineKeyboardButton expected")
    if not isinstance(button.get("text"), str) or not button["text"].strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [name for name in BUTTON_ACTIONS if button.get(name) is not None]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        raise bad_request("can't parse inline keyboard button: exactly one action field expected")
    if "callback_data" in actions:
        _validate_callback_data(button["callback_data"])
    if "url" in actions:
        _validate_url(button["url"])


def _validate_callback_data(data: Any) -> None:
    if not isinstance(data, str):
        raise bad_request("BUTTON_DATA_INVALID")
    size = len(data.encode("utf-8"))
    if not 1 <= size <= CALLBACK_DATA_MAX_BYTES:
        raise bad_request("BUTTON_DATA_INVALID")


def _validate_url(url: Any) -> None:
    if not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://")):
        raise bad_request("BUTTON_URL_INVALID")
