"""Plane webhook deliveries: verify, parse, de-duplicate. Pure: no HTTP framework here.

A delivery is only a hint to look at an item sooner. Plane sends one per changed field,
reads `data` at delivery time and sends nothing for deletions or relations, so the
reconciler re-reads the item from the API instead of trusting the body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import TrackerError

SIGNATURE_HEADER = "X-Plane-Signature"
EVENT_HEADER = "X-Plane-Event"
DELIVERY_HEADER = "X-Plane-Delivery"


class InvalidDelivery(TrackerError):
    """A webhook request that is not a genuine, well-formed Plane delivery."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a delivery tells: which item (or project) to look at, and why."""

    delivery_id: str
    event: str  # issue, issue_comment, project, module, cycle
    action: str  # created, updated, deleted
    item_id: str | None  # the work item concerned, for issue and issue_comment events
    project_id: str | None
    field: str | None = None  # the one changed field of an `updated` delivery


def sign(secret: str, body: bytes) -> str:
    """Plane's signature: lowercase hex HMAC-SHA256 of the raw body, no prefix."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, signature: str | None) -> bool:
    """True when `signature` is the body's signature; never true without a secret."""
    if not secret or not signature:
        return False
    return hmac.compare_digest(sign(secret, body), signature.strip().lower())


def parse_delivery(headers: Mapping[str, str], body: bytes, secret: str) -> Delivery:
    """Verify and parse one delivery; raises InvalidDelivery for anything else."""
    lowered = {key.lower(): value for key, value in headers.items()}
    if not verify_signature(secret, body, lowered.get(SIGNATURE_HEADER.lower())):
        raise InvalidDelivery("webhook signature missing or wrong")
    delivery_id = lowered.get(DELIVERY_HEADER.lower(), "").strip()
    if not delivery_id:
        raise InvalidDelivery(f"webhook without {DELIVERY_HEADER}")
    payload = _json_object(body)
    event = _text(payload, "event")
    data = payload.get("data")
    if not isinstance(data, Mapping):
        raise InvalidDelivery("webhook without a 'data' object")
    item_id, project_id = _subject(event, data)
    return Delivery(
        delivery_id=delivery_id,
        event=event,
        action=_text(payload, "action"),
        item_id=item_id,
        project_id=project_id,
        field=_changed_field(payload),
    )


class DeliveryDedup:
    """The most recent delivery ids, bounded: Plane retries a delivery on network errors."""

    def __init__(self, capacity: int = 1024) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._capacity = capacity
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first_time(self, delivery_id: str) -> bool:
        """Record the id; True the first time it is seen (within the last `capacity`)."""
        if delivery_id in self._seen:
            self._seen.move_to_end(delivery_id)
            return False
        self._seen[delivery_id] = None
        if len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._seen)


def _subject(event: str, data: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(item id, project id) that a delivery is about."""
    if event == "issue":
        return _opt_text(data, "id"), _opt_text(data, "project")
    if event == "issue_comment":
        return _opt_text(data, "issue"), _opt_text(data, "project")
    if event == "project":
        return None, _opt_text(data, "id")
    return None, _opt_text(data, "project")


def _changed_field(payload: Mapping[str, Any]) -> str | None:
    activity = payload.get("activity")
    return _opt_text(activity, "field") if isinstance(activity, Mapping) else None


def _json_object(body: bytes) -> Mapping[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidDelivery("webhook body is not JSON") from exc
    if not isinstance(payload, Mapping):
        raise InvalidDelivery("webhook body is not a JSON object")
    return payload


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidDelivery(f"webhook without a valid '{key}'")
    return value


def _opt_text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) and value else None
