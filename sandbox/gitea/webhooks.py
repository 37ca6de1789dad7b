"""The emulator's outgoing webhooks, signed and shaped like Gitea 1.16's (or Forgejo's).

Deliveries are queued as things happen and sent by `deliver()`; the body is rendered as
Gitea renders it (two-space indented JSON) and signed with HMAC-SHA256 of those bytes.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from core.integrations.forge.webhooks import sign

log = logging.getLogger("sandbox.gitea.webhooks")

Sender = Callable[[str, Mapping[str, str], bytes], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Delivery:
    event: str  # X-Gitea-Event: push, pull_request
    event_type: str  # X-Gitea-Event-Type: push, pull_request, pull_request_sync
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Sent:
    url: str
    headers: Mapping[str, str]
    body: bytes


async def http_sender(url: str, headers: Mapping[str, str], body: bytes) -> None:
    async with httpx.AsyncClient(timeout=5.0) as client:
        response = await client.post(url, content=body, headers=dict(headers))
        response.raise_for_status()


@dataclass
class Hooks:
    """Where deliveries go (None: nowhere), the secret, and what went out."""

    url: str | None = None
    secret: str = ""
    forgejo: bool = False
    sender: Sender = http_sender
    pending: list[Delivery] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    failures: int = 0

    def queue(self, delivery: Delivery) -> None:
        if self.url:
            self.pending.append(delivery)

    async def deliver(self) -> int:
        batch, self.pending = self.pending, []
        count = 0
        for delivery in batch:
            count += await self._send(delivery)
        return count

    def headers(self, delivery: Delivery, body: bytes) -> dict[str, str]:
        ident, signature = str(uuid.uuid4()), sign(self.secret, body)
        brand = "Forgejo" if self.forgejo else "Gitea"
        return {
            "Content-Type": "application/json",
            f"X-{brand}-Delivery": ident,
            f"X-{brand}-Event": delivery.event,
            f"X-{brand}-Event-Type": delivery.event_type,
            f"X-{brand}-Signature": signature,
            "X-GitHub-Delivery": ident,
            "X-GitHub-Event": delivery.event,
            "X-Hub-Signature-256": f"sha256={signature}",
        }

    async def _send(self, delivery: Delivery) -> int:
        if not self.url:
            return 0
        body = json.dumps(delivery.payload, indent=2).encode()
        headers = self.headers(delivery, body)
        try:
            await self.sender(self.url, headers, body)
        except Exception as exc:  # best effort, as Gitea's queue after its retries
            self.failures += 1
            log.warning("webhook to %s failed: %s", self.url, exc)
            return 0
        self.sent.append(Sent(self.url, headers, body))
        return 1
