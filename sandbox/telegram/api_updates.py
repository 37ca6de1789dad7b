"""getUpdates (a real long poll) and the webhook methods.

With a webhook set, updates are POSTed to it (sandbox/telegram/webhook.py) and
getUpdates answers 409, as Telegram does. The emulator accepts http:// URLs on loopback
(tests); any other URL must be https:// on port 443, 80, 88 or 8443."""

from __future__ import annotations

import string
from typing import Any
from urllib.parse import urlsplit

from .context import MethodContext
from .state import Webhook
from .wire import ApiError, Params, bad_request

MAX_LIMIT = 100
CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
WEBHOOK_PORTS = (443, 80, 88, 8443)
SECRET_CHARS = frozenset(string.ascii_letters + string.digits + "_-")


async def get_updates(ctx: MethodContext, params: Params) -> list[dict[str, Any]]:
    bot = ctx.bot
    if bot.webhook is not None:
        raise ApiError(409, WEBHOOK_ACTIVE)
    bot.confirm(params.integer("offset"))
    limit = min(MAX_LIMIT, max(1, params.integer("limit") or MAX_LIMIT))
    timeout = max(0.0, params.number("timeout", 0.0))
    allowed = params.structure("allowed_updates")
    if isinstance(allowed, list):
        bot.allowed_updates = [str(kind) for kind in allowed]
    # A newer getUpdates ends the one still waiting, exactly like Telegram's 409.
    bot.poll_generation += 1
    generation = bot.poll_generation
    bot.waiting_polls += 1
    bot.changed.notify()
    try:
        await bot.changed.wait_until(
            lambda: bool(bot.deliverable()) or bot.poll_generation != generation or bot.closed,
            timeout,
        )
    finally:
        bot.waiting_polls -= 1
    if bot.poll_generation != generation:
        raise ApiError(409, CONFLICT)
    return bot.deliverable()[:limit]


async def delete_webhook(ctx: MethodContext, params: Params) -> bool:
    if params.flag("drop_pending_updates"):
        ctx.bot.updates.clear()
    ctx.bot.webhook, ctx.bot.webhook_error = None, None
    ctx.bot.changed.notify()
    return True


async def get_webhook_info(ctx: MethodContext, params: Params) -> dict[str, Any]:
    bot = ctx.bot
    info: dict[str, Any] = {
        "url": bot.webhook.url if bot.webhook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(bot.updates),
    }
    if bot.webhook is not None:
        info["max_connections"] = bot.webhook.max_connections
        if bot.allowed_updates:
            info["allowed_updates"] = list(bot.allowed_updates)
    if bot.webhook_error is not None:
        at, message = bot.webhook_error
        info["last_error_date"] = int(at.timestamp())
        info["last_error_message"] = message
    return info


async def set_webhook(ctx: MethodContext, params: Params) -> bool:
    url = params.text("url") or ""
    if not url:
        return await delete_webhook(ctx, params)
    _check_url(url)
    secret = params.text("secret_token")
    if secret is not None and not (0 < len(secret) <= 256 and set(secret) <= SECRET_CHARS):
        raise bad_request("secret token contains unallowed characters")
    allowed = params.structure("allowed_updates")
    if isinstance(allowed, list):
        ctx.bot.allowed_updates = [str(kind) for kind in allowed]
    if params.flag("drop_pending_updates"):
        ctx.bot.updates.clear()
    connections = params.integer("max_connections") or 40
    ctx.bot.webhook = Webhook(url, secret, max(1, min(100, connections)))
    ctx.bot.webhook_error = None
    ctx.bot.poll_generation += 1  # a long poll still waiting ends, as with a newer poll
    ctx.bot.changed.notify()
    return True


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request("bad webhook: invalid webhook URL specified")
    if loopback:
        return
    if parts.scheme != "https":
        raise bad_request("bad webhook: an HTTPS URL must be provided for webhook")
    if (parts.port or 443) not in WEBHOOK_PORTS:
        raise bad_request("bad webhook: webhook can be set up only on ports 80, 88, 443 or 8443")


METHODS = {
    "getUpdates": get_updates,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "setWebhook": set_webhook,
}
