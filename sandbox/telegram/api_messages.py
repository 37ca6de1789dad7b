"""sendMessage and the edits: the methods that write to a chat and count toward flood limits."""

from __future__ import annotations

from typing import Any

from .context import MethodContext
from .markup import validate_reply_markup
from .messages import format_text, message_to_api
from .state import Chat, StoredMessage
from .wire import Params, bad_request

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)


async def send_message(ctx: MethodContext, params: Params) -> dict[str, Any]:
    chat = ctx.chat(params.chat_id())
    text = params.text("text") or ""
    parse_mode = params.text("parse_mode")
    formatted = format_text(text, parse_mode, params.structure("entities"))
    markup = validate_reply_markup(params.structure("reply_markup"))
    reply_to = _reply_target(chat, params)
    ctx.throttle(chat.id)
    message = StoredMessage(
        message_id=chat.next_message_id(),
        chat_id=chat.id,
        sender=ctx.bot.sender,
        text=text,
        plain_text=formatted.text,
        entities=formatted.entities,
        date=ctx.now(),
        parse_mode=parse_mode,
        reply_markup=markup,
        reply_to_message_id=reply_to,
        message_thread_id=params.integer("message_thread_id"),
        disable_notification=params.flag("disable_notification"),
    )
    chat.messages[message.message_id] = message
    chat.remember("message", message, ctx.now())
    ctx.count_message(chat.id, edit=False)
    return message_to_api(chat, message)


def _reply_target(chat: Chat, params: Params) -> int | None:
    """reply_parameters (PTB 21+) or the legacy reply_to_message_id."""
    reply = params.structure("reply_parameters")
    if isinstance(reply, dict):
        message_id = reply.get("message_id")
        lenient = bool(reply.get("allow_sending_without_reply"))
        if reply.get("chat_id") not in (None, chat.id):
            raise bad_request("replies to other chats are not supported by the emulator")
    else:
        message_id = params.integer("reply_to_message_id")
        lenient = params.flag("allow_sending_without_reply")
    if message_id is None:
        return None
    if int(message_id) in chat.messages:
        return int(message_id)
    if lenient:
        return None
    raise bad_request("message to be replied not found")


async def edit_message_text(ctx: MethodContext, params: Params) -> dict[str, Any]:
    chat, message = ctx.message_to_edit(params)
    text = params.text("text") or ""
    parse_mode = params.text("parse_mode")
    formatted = format_text(text, parse_mode, params.structure("entities"))
    # Like Telegram, an edit without reply_markup removes the inline keyboard.
    markup = validate_reply_markup(params.structure("reply_markup"))
    if (formatted.text, formatted.entities, markup) == message.content():
        raise bad_request(NOT_MODIFIED)
    ctx.throttle(chat.id)
    message.text = text
    message.parse_mode = parse_mode
    message.plain_text = formatted.text
    message.entities = formatted.entities
    message.reply_markup = markup
    return _finish_edit(ctx, chat, message)


async def edit_message_reply_markup(ctx: MethodContext, params: Params) -> dict[str, Any]:
    chat, message = ctx.message_to_edit(params)
    markup = validate_reply_markup(params.structure("reply_markup"))
    if markup == message.reply_markup:
        raise bad_request(NOT_MODIFIED)
    ctx.throttle(chat.id)
    message.reply_markup = markup
    return _finish_edit(ctx, chat, message)


def _finish_edit(ctx: MethodContext, chat: Chat, message: StoredMessage) -> dict[str, Any]:
    message.edit_count += 1
    message.edit_date = ctx.now()
    chat.remember("edit", message, ctx.now())
    ctx.count_message(chat.id, edit=True)
    return message_to_api(chat, message)


METHODS = {
    "sendMessage": send_message,
    "editMessageText": edit_message_text,
    "editMessageReplyMarkup": edit_message_reply_markup,
}
