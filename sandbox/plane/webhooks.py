"""Outgoing webhooks of the emulator: queued on change, signed and sent on delivery.

Like Plane: one delivery per changed field, `data` read when the delivery is sent (not
when the change happened), best effort (a failed send is counted, not retried).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from core.integrations.plane.webhooks import sign

log = logging.getLogger("sandbox.plane.webhooks")

WebhookSender = Callable[[str, Mapping[str, str], bytes], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Pending:
    """A change waiting to be told: `subject_id` is the project, item or comment id."""

    event: str
    action: str
    subject_id: str
    field: str | None = None
    old_value: Any = None
    new_value: Any = None
    actor: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class SentDelivery:
    """What went out, as a receiver saw it (for tests that do not run a receiver)."""

    url: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def http_sender(url: str, headers: Mapping[str, str], body: bytes) -> None:
    """The default sender: one POST, a short timeout."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        response = await client.post(url, content=body, headers=dict(headers))
        response.raise_for_status()


class Outbox:
    """Queued deliveries; `deliver()` renders and sends them."""

    def __init__(self, url: str | None, secret: str, sender: WebhookSender | None) -> None:
        self.url = url
        self.secret = secret
        self.sender = sender or http_sender
        self.pending: list[Pending] = []
        self.sent = 0
        self.failures = 0

    def queue(self, change: Pending) -> None:
        if self.url:
            self.pending.append(change)

    async def deliver(self, render: Callable[[Pending], dict[str, Any] | None]) -> int:
        """Send everything queued; returns how many went out."""
        batch, self.pending = self.pending, []
        count = 0
        for change in batch:
            payload = render(change)
            if payload is not None and self.url:
                count += await self._send(self.url, change.event, payload)
        return count

    async def _send(self, url: str, event: str, payload: dict[str, Any]) -> int:
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Autopilot",
            "X-Plane-Delivery": str(uuid.uuid4()),
            "X-Plane-Event": event,
            "X-Plane-Signature": sign(self.secret, body),
        }
        try:
            await self.sender(url, headers, body)
        except Exception as exc:  # best effort, as Plane: count and carry on
            self.failures += 1
            log.warning("webhook to %s failed: %s", url, exc)
            return 0
        self.sent += 1
        return 1
