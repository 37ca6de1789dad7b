"""POST /hooks/telegram on its own: the secret decides, then the update goes through."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from telegram import WebhookInfo

from app.http_server import serve_asgi
from app.telegram_webhook import PATH, TelegramWebhook, describe


async def test_only_the_secret_lets_an_update_through() -> None:
    webhook = TelegramWebhook("https://orch.example.com/hooks/telegram")
    delivered: list[dict[str, Any]] = []

    async def deliver(update: dict[str, Any]) -> None:
        delivered.append(update)

    app = Starlette(routes=[webhook.route(deliver)])
    right = {"X-Telegram-Bot-Api-Secret-Token": webhook.secret}
    async with serve_asgi(app) as url, httpx.AsyncClient(base_url=url) as client:
        wrong = await client.post(PATH, json={"update_id": 1},
                                  headers={"X-Telegram-Bot-Api-Secret-Token": "x"})
        bad = await client.post(PATH, content=b"{not json", headers=right)
        odd = await client.post(PATH, json={"message": {}}, headers=right)
        ok = await client.post(PATH, json={"update_id": 2, "message": {}}, headers=right)

    assert [r.status_code for r in (wrong, bad, odd, ok)] == [401, 400, 400, 200]
    assert delivered == [{"update_id": 2, "message": {}}]
    assert (webhook.received, webhook.refused) == (1, 1)
    assert webhook.secret not in repr(webhook)
    assert len(webhook.secret) >= 32 and TelegramWebhook("u").secret != webhook.secret


def test_doctor_describes_the_webhook_as_telegram_sees_it() -> None:
    assert describe(WebhookInfo("", False, 3)) == "no webhook (orch polls)"
    failing = WebhookInfo("https://orch.example.com/hooks/telegram", False, 2,
                          last_error_date=datetime(2026, 11, 27, 9, 30, tzinfo=UTC),
                          last_error_message="Connection refused")
    assert describe(failing) == ("webhook https://orch.example.com/hooks/telegram · 2 pending"
                                 " · last error 2026-11-27 09:30 UTC: Connection refused")
