"""The /control/... JSON API: tests and the demo act as users and read what they would see.

Every answer is {"ok": true, "result": ...} or {"ok": false, "description": ...} with a 4xx.
A `token` query parameter picks the bot; without it the emulator's first bot is used.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .user_actions import ControlError

if TYPE_CHECKING:
    from .emulator import TelegramEmulator

Handler = Callable[[Request], Awaitable[Any]]
MAX_WAIT = 60.0


def control_routes(emu: TelegramEmulator) -> list[Route]:
    """Routes of the control API bound to one emulator."""
    handlers = _Handlers(emu)
    table: list[tuple[str, Handler, str]] = [
        ("/control/chats", handlers.create_chat, "POST"),
        ("/control/chats", handlers.list_chats, "GET"),
        ("/control/chats/{chat_id}", handlers.read_chat, "GET"),
        ("/control/messages", handlers.user_message, "POST"),
        ("/control/callbacks", handlers.press_button, "POST"),
        ("/control/callbacks/{query_id}", handlers.read_callback, "GET"),
        ("/control/stats", handlers.stats, "GET"),
        ("/control/calls", handlers.calls, "GET"),
        ("/control/commands", handlers.commands, "GET"),
        ("/control/reset", handlers.reset, "POST"),
    ]
    return [Route(path, _json_endpoint(h), methods=[m]) for path, h, m in table]


def _json_endpoint(handler: Handler) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def endpoint(request: Request) -> JSONResponse:
        try:
            result = await handler(request)
        except ControlError as exc:
            body = {"ok": False, "description": exc.description}
            return JSONResponse(body, status_code=exc.status)
        return JSONResponse({"ok": True, "result": result})

    return endpoint


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise ControlError("body must be JSON") from exc
    if not isinstance(body, dict):
        raise ControlError("body must be a JSON object")
    return body


def _field(body: dict[str, Any], name: str, kind: type, default: Any = ...) -> Any:
    value = body.get(name, default)
    if value is ...:
        raise ControlError(f"{name} is required")
    if value is not None and value is not default and not isinstance(value, kind):
        raise ControlError(f"{name} must be {kind.__name__}")
    return value


def _integer(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise ControlError(f"{name} must be an integer") from exc


def _timeout(request: Request) -> float:
    try:
        return min(MAX_WAIT, max(0.0, float(request.query_params.get("timeout", 0))))
    except ValueError as exc:
        raise ControlError("timeout must be a number") from exc


class _Handlers:
    def __init__(self, emu: TelegramEmulator) -> None:
        self.emu = emu

    def _token(self, request: Request) -> str | None:
        token = request.query_params.get("token")
        if token is not None and token not in self.emu.tokens:
            raise ControlError("unknown bot token", 404)
        return token

    async def create_chat(self, request: Request) -> dict[str, Any]:
        body = await _body(request)
        return self.emu.create_chat(
            _field(body, "id", int),
            _field(body, "type", str, "private"),
            _field(body, "title", str, None),
            username=_field(body, "username", str, None),
            first_name=_field(body, "first_name", str, None),
            token=self._token(request),
        )

    async def list_chats(self, request: Request) -> list[dict[str, Any]]:
        return self.emu.chats(token=self._token(request))

    async def read_chat(self, request: Request) -> dict[str, Any]:
        token = self._token(request)
        chat_id = _integer(request.path_params["chat_id"], "chat id")
        since = request.query_params.get("since")
        if since is not None:
            bot = self.emu.bot(token)
            floor = _integer(since, "since")
            await bot.changed.wait_until(lambda: bot.changed.version > floor, _timeout(request))
        return self.emu.chat_view(chat_id, token=token)

    async def user_message(self, request: Request) -> dict[str, Any]:
        body = await _body(request)
        return self.emu.user_message(
            _field(body, "chat_id", int),
            _field(body, "text", str),
            user_id=_field(body, "user_id", int, None),
            first_name=_field(body, "first_name", str, "User"),
            username=_field(body, "username", str, None),
            reply_to_message_id=_field(body, "reply_to_message_id", int, None),
            message_thread_id=_field(body, "message_thread_id", int, None),
            token=self._token(request),
        )

    async def press_button(self, request: Request) -> dict[str, Any]:
        body = await _body(request)
        query_id = self.emu.press_button(
            _field(body, "chat_id", int),
            _field(body, "message_id", int),
            _field(body, "callback_data", str),
            user_id=_field(body, "user_id", int, None),
            first_name=_field(body, "first_name", str, "User"),
            username=_field(body, "username", str, None),
            force=_field(body, "force", bool, False),
            token=self._token(request),
        )
        return {"callback_query_id": query_id}

    async def read_callback(self, request: Request) -> dict[str, Any]:
        token = self._token(request)
        query_id = request.path_params["query_id"]
        record = self.emu.bot(token).callbacks.get(query_id)
        if record is None:
            raise ControlError("unknown callback query id", 404)
        await self.emu.wait_for(lambda: record.answer is not None, _timeout(request), token=token)
        return {
            "id": record.id,
            "chat_id": record.chat_id,
            "message_id": record.message_id,
            "data": record.data,
            "answered": record.answer is not None,
            "answer": record.answer,
        }

    async def stats(self, request: Request) -> dict[str, Any]:
        return self.emu.stats(token=self._token(request))

    async def calls(self, request: Request) -> list[dict[str, Any]]:
        method = request.query_params.get("method")
        return self.emu.calls(method, token=self._token(request))

    async def commands(self, request: Request) -> dict[str, Any]:
        return self.emu.commands(token=self._token(request))

    async def reset(self, request: Request) -> bool:
        self.emu.reset(token=self._token(request))
        return True
