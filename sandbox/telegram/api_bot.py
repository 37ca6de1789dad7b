"""getMe, the command list and answerCallbackQuery: methods that do not write to a chat."""

from __future__ import annotations

import json
import re
from typing import Any

from .context import MethodContext
from .messages import epoch
from .wire import Params, bad_request

CALLBACK_TEXT_MAX = 200
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")


async def get_me(ctx: MethodContext, params: Params) -> dict[str, Any]:
    return ctx.bot.bot_user


async def answer_callback_query(ctx: MethodContext, params: Params) -> bool:
    query_id = params.text("callback_query_id", required=True) or ""
    record = ctx.bot.callbacks.get(query_id)
    if record is None or record.answer is not None:
        raise bad_request(QUERY_INVALID)
    age = (ctx.now() - record.created).total_seconds()
    if age > ctx.limits.callback_answer_timeout:
        raise bad_request(QUERY_INVALID)
    text = params.text("text")
    if text is not None and len(text) > CALLBACK_TEXT_MAX:
        raise bad_request("message is too long")
    record.answer = {
        "text": text,
        "show_alert": params.flag("show_alert"),
        "url": params.text("url"),
        "cache_time": params.integer("cache_time") or 0,
        "answered_at": epoch(ctx.now()),
    }
    ctx.bot.changed.notify()
    return True


async def set_my_commands(ctx: MethodContext, params: Params) -> bool:
    commands = params.structure("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        _validate_command(command)
    ctx.bot.commands[_scope_key(params)] = [
        {"command": c["command"], "description": c["description"]} for c in commands
    ]
    return True


async def get_my_commands(ctx: MethodContext, params: Params) -> list[dict[str, Any]]:
    return ctx.bot.commands.get(_scope_key(params), [])


async def delete_my_commands(ctx: MethodContext, params: Params) -> bool:
    ctx.bot.commands.pop(_scope_key(params), None)
    return True


def _validate_command(command: Any) -> None:
    if not isinstance(command, dict) or not _COMMAND.match(str(command.get("command", ""))):
        raise bad_request("BOT_COMMAND_INVALID")
    description = command.get("description")
    if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
        raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")


def _scope_key(params: Params) -> str:
    """Commands are kept per (scope, language), as Telegram does."""
    scope = params.structure("scope") or {"type": "default"}
    language = params.text("language_code") or ""
    return json.dumps([scope, language], sort_keys=True)


METHODS = {
    "getMe": get_me,
    "answerCallbackQuery": answer_callback_query,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
}
