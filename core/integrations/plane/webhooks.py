"""Plane webhook deliveries: verify, parse, de-duplicate. Pure: no HTTP framework here.

A delivery is only a hint to look at an item sooner. Plane sends one per changed field,
reads `data` at delivery time and sends nothing for deletions or relations, so the
reconciler re-reads the item from the API instead of trusting the body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import InvalidDelivery, UnverifiedDelivery
from core.sync.deliveries import WebhookHint

SIGNATURE_HEADER = "X-Plane-Signature"
EVENT_HEADER = "X-Plane-Event"
DELIVERY_HEADER = "X-Plane-Delivery"


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
        raise UnverifiedDelivery("webhook signature missing or wrong")
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


ITEM_EVENTS = frozenset({"issue", "issue_comment"})


class PlaneWebhooks:
    """TrackerWebhooks for Plane: X-Plane-Signature is the HMAC of the body under the
    secret; with no secret every delivery is refused (an unset secret is never open)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def read(self, headers: Mapping[str, str], body: bytes) -> WebhookHint:
        delivery = parse_delivery(headers, body, self._secret)
        item_id = delivery.item_id if delivery.event in ITEM_EVENTS else None
        return WebhookHint(delivery.delivery_id, delivery.project_id, item_id,
                           f"{delivery.event} {delivery.action}")


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
