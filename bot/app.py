"""The one function that builds the Telegram Application from settings and services."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from telegram import Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, BaseHandler

from bot.auth import chat_guard
from bot.context import Services
from bot.errors import on_error
from bot.handlers import basic, buttons, deps, lessons, queue, tasks, whoami
from bot.telemetry import TelegramCalls, TrackedRequest

ALL_FEATURES = (basic, queue, tasks, deps, buttons, lessons, whoami)


def build_telegram(token: str, api_url: str, *, rate_limiter: bool = True,
                   calls: TelegramCalls | None = None) -> Application:
    """The bare Application: token, Bot API base URL, PTB's limiter as a backstop; with
    `calls`, every Bot API request is counted there (metrics, readiness).

    The limiter does not retry: a 429 must reach the courier, which waits, counts it and
    keeps its place in the outbox."""
    builder = ApplicationBuilder().token(token).base_url(api_base(api_url))
    if calls is not None:
        builder = builder.request(TrackedRequest(calls)).get_updates_request(
            TrackedRequest(calls, connection_pool_size=1))
    builder = builder.base_file_url(api_base(api_url).replace("/bot", "/file/bot"))
    if rate_limiter:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=0))
    return builder.build()


def install_handlers(app: Application, services: Services,
                     extra: Sequence[BaseHandler[Update, Any, Any]] = ()) -> None:
    """Wires every feature's handlers (and `extra` ones, e.g. the tracker sync's button),
    the chat guard first and the error handler last."""
    app.add_handler(chat_guard(services.settings, services.notifier), group=-1)
    for feature in ALL_FEATURES:
        app.add_handlers(feature.handlers(services))
    app.add_handlers(list(extra))
    app.add_handlers(buttons.fallback())  # last: every other press gets an answer too
    app.add_error_handler(on_error(services))


def api_base(api_url: str) -> str:
    url = api_url.rstrip("/")
    return url if url.endswith("/bot") else url + "/bot"

