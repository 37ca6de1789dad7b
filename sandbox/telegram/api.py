"""The /bot{token}/{method} endpoint: authenticate, dispatch, envelope, record the call."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from . import api_bot, api_messages, api_updates
from .context import Method, MethodContext
from .state import CallRecord
from .wire import ApiError, Params, read_params

log = logging.getLogger(__name__)

# Bot API method names are case-insensitive.
METHODS: dict[str, tuple[str, Method]] = {
    name.lower(): (name, method)
    for table in (api_bot.METHODS, api_messages.METHODS, api_updates.METHODS)
    for name, method in table.items()
}


class BotApiEndpoint:
    """Starlette endpoint (`.handle`) answering Bot API calls in Telegram's exact JSON shapes."""

    def __init__(self, resolve: Callable[[str], MethodContext | None],
                 before: Callable[[str], Awaitable[None]] | None = None) -> None:
        self._resolve = resolve
        self._before = before

    async def handle(self, request: Request) -> JSONResponse:
        ctx = self._resolve(request.path_params["token"])
        if ctx is None:
            return _error(ApiError(401, "Unauthorized"))
        called = request.path_params["method"]
        name, method = METHODS.get(called.lower(), (called, None))
        params = Params({})
        try:
            if method is None:
                raise ApiError(404, "Not Found")
            params = await read_params(request)
            if self._before is not None:
                await self._before(name)
            result = await method(ctx, params)
        except ApiError as exc:
            _record(ctx, name, params, exc)
            return _error(exc)
        except Exception:
            log.exception("emulator failed on %s", name)
            exc = ApiError(500, "Internal Server Error: the emulator failed")
            _record(ctx, name, params, exc)
            return _error(exc)
        _record(ctx, name, params, None)
        return JSONResponse({"ok": True, "result": result})


def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.payload(), status_code=exc.code)


def _record(ctx: MethodContext, method: str, params: Params, error: ApiError | None) -> None:
    chat_id = _chat_of(ctx, params)
    ctx.bot.calls.append(
        CallRecord(
            method=method,
            chat_id=chat_id,
            ok=error is None,
            error_code=error.code if error else None,
            description=error.description if error else None,
            at=ctx.now(),
        )
    )
    if error is not None and isinstance(chat_id, int):
        stats = ctx.bot.chat_stats(chat_id)
        if error.code == 429:
            stats.rate_limited += 1
        else:
            stats.errors += 1
    ctx.bot.changed.notify()


def _chat_of(ctx: MethodContext, params: Params) -> Any:
    query = ctx.bot.callbacks.get(str(params.values.get("callback_query_id")))
    if query is not None:
        return query.chat_id
    try:
        return params.chat_id(required=False)
    except ApiError:
        return params.values.get("chat_id")
