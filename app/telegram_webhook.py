"""Telegram webhook mode: Telegram POSTs each update to orch instead of orch polling.

With ORCH_TELEGRAM_WEBHOOK_URL set, orch calls setWebhook with that URL and a secret
made at each start (never configured, never logged); Telegram sends it back in
`X-Telegram-Bot-Api-Secret-Token`. POST /hooks/telegram compares it in constant time:
wrong or missing → 401 and nothing else happens. An accepted update goes to `deliver`,
the inbox polled updates go to, and only then is 200 answered — so an update Telegram
saw acknowledged is one orch has stored.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Bot, Update, WebhookInfo

log = logging.getLogger(__name__)

PATH = "/hooks/telegram"
SECRET_HEADER = "x-telegram-bot-api-secret-token"
Deliver = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class TelegramWebhook:
    """The webhook orch registers, and the route that takes its updates."""

    url: str
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    received: int = 0
    refused: int = 0

    async def register(self, bot: Bot) -> None:
        """setWebhook: from now on Telegram POSTs updates instead of answering polls."""
        await bot.set_webhook(self.url, secret_token=self.secret,
                              allowed_updates=Update.ALL_TYPES)

    def route(self, deliver: Deliver) -> Route:
        async def hook(request: Request) -> Response:
            given = request.headers.get(SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), self.secret.encode()):
                self.refused += 1
                log.warning("refused a Telegram webhook call without the right secret")
                return JSONResponse({"error": "unauthorised"}, status_code=401)
            update = _update(await request.body())
            if update is None:
                return JSONResponse({"error": "not a Telegram update"}, status_code=400)
            await deliver(update)
            self.received += 1
            return Response(status_code=200)

        return Route(PATH, hook, methods=["POST"])


def _update(body: bytes) -> dict[str, Any] | None:
    try:
        update = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        return None
    return update


def describe(info: WebhookInfo) -> str:
    """getWebhookInfo in one line for `orch doctor`."""
    if not info.url:
        return "no webhook (orch polls)"
    text = f"webhook {info.url} · {info.pending_update_count} pending"
    if info.last_error_date is not None:
        text += (f" · last error {info.last_error_date:%Y-%m-%d %H:%M UTC}: "
                 f"{info.last_error_message or 'unknown'}")
    return text
