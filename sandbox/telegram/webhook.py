"""Webhook delivery: while a bot has a webhook, its updates are POSTed there one by one,
in order, each with the bot's secret in `X-Telegram-Bot-Api-Secret-Token`.

An answer 2xx settles the update; anything else (or no answer) keeps it pending, is
reported by getWebhookInfo's last_error_date/last_error_message, and is tried again
after `retry_s` — so updates are never lost and never delivered out of order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import httpx

from .state import BotState, WallClock

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookDelivery:
    """Delivers every bot's pending updates to its webhook while `running()`."""

    def __init__(self, bots: Callable[[], Iterable[BotState]], clock: WallClock, *,
                 retry_s: float = 1.0, timeout_s: float = 5.0) -> None:
        self._bots = bots
        self._clock = clock
        self.retry_s = retry_s
        self._timeout_s = timeout_s
        self.delivered = 0
        self.failed = 0

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=self._timeout_s) as client:
            tasks = [asyncio.create_task(self._deliver(bot, client), name="webhook delivery")
                     for bot in self._bots()]
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _deliver(self, bot: BotState, client: httpx.AsyncClient) -> None:
        while True:
            await bot.changed.wait_until(lambda: _due(bot) is not None, 3600.0)
            update = _due(bot)
            if update is None or bot.webhook is None:
                continue
            problem = await self._post(client, bot, update)
            if problem is None:
                bot.confirm(update["update_id"] + 1)
                self.delivered += 1
                bot.changed.notify()
                continue
            self.failed += 1
            bot.webhook_error = (self._clock.now(), problem)
            await asyncio.sleep(self.retry_s)

    async def _post(self, client: httpx.AsyncClient, bot: BotState,
                    update: dict[str, Any]) -> str | None:
        assert bot.webhook is not None
        headers = {SECRET_HEADER: bot.webhook.secret_token} if bot.webhook.secret_token else {}
        try:
            answer = await client.post(bot.webhook.url, json=update, headers=headers)
        except httpx.HTTPError as exc:
            return f"Connection failed: {type(exc).__name__}"
        if 200 <= answer.status_code < 300:
            return None
        return f"Wrong response from the webhook: {answer.status_code} {answer.reason_phrase}"


def _due(bot: BotState) -> dict[str, Any] | None:
    if bot.webhook is None or bot.closed:
        return None
    pending = bot.deliverable()
    return pending[0] if pending else None
