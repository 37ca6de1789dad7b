"""getUpdates (a real long poll) and the webhook methods a polling bot calls."""

from __future__ import annotations

from typing import Any

from .context import MethodContext
from .wire import ApiError, Params, bad_request

MAX_LIMIT = 100
CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


async def get_updates(ctx: MethodContext, params: Params) -> list[dict[str, Any]]:
    bot = ctx.bot
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
    return True


async def get_webhook_info(ctx: MethodContext, params: Params) -> dict[str, Any]:
    return {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": len(ctx.bot.updates),
    }


async def set_webhook(ctx: MethodContext, params: Params) -> bool:
    raise bad_request("webhooks are not supported by the emulator; use getUpdates")


METHODS = {
    "getUpdates": get_updates,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "setWebhook": set_webhook,
}
