"""Webhook deliveries recorded from a real Plane: signatures, parsing, de-duplication."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.errors import InvalidDelivery
from core.integrations.plane.webhooks import parse_delivery, sign, verify_signature

SECRET = "plane_wh_3820d598d2f44f8fa5ec64bb25a5dacd"
DELIVERIES = sorted(
    (Path(__file__).resolve().parents[1] / "fixtures/plane/webhooks").glob("*.json")
)
ITEM = "ee8349bc-df7e-4ce2-a639-7f4e0c43779a"
PROJECT = "194938ae-af55-47b7-b5d1-aff050418197"


def load(path: Path) -> tuple[dict[str, str], bytes, dict[str, Any]]:
    record = json.loads(path.read_text(encoding="utf-8"))
    return record["headers"], record["raw_body"].encode(), record


def delivery(fragment: str) -> Path:
    return next(p for p in DELIVERIES if fragment in p.name)


def test_the_recordings_are_there() -> None:
    assert len(DELIVERIES) == 14


@pytest.mark.parametrize("path", DELIVERIES, ids=lambda p: p.name)
def test_every_real_delivery_verifies_and_parses(path: Path) -> None:
    headers, body, record = load(path)
    assert sign(SECRET, body) == record["computed_hmac_sha256_of_raw_body"]
    parsed = parse_delivery(headers, body, SECRET)
    assert parsed.delivery_id == headers["X-Plane-Delivery"]
    assert parsed.event == headers["X-Plane-Event"] == record["json"]["event"]
    assert parsed.action == record["json"]["action"]
    assert parsed.project_id == PROJECT
    assert parsed.field == record["json"]["activity"]["field"]


def test_an_issue_update_names_the_item_and_the_field() -> None:
    parsed = parse_delivery(*load(delivery("1795248452.299588"))[:2], SECRET)
    assert (parsed.event, parsed.action, parsed.field) == ("issue", "updated", "state")
    assert parsed.item_id == ITEM


def test_a_comment_names_the_item_it_is_on() -> None:
    parsed = parse_delivery(*load(delivery("1795248558.506963"))[:2], SECRET)
    assert parsed.event == "issue_comment" and parsed.item_id == ITEM


def test_a_project_delivery_names_no_item() -> None:
    parsed = parse_delivery(*load(delivery("_project"))[:2], SECRET)
    assert parsed.item_id is None and parsed.project_id == PROJECT


def test_header_names_are_case_insensitive() -> None:
    headers, body, _ = load(delivery("1795248452.299588"))
    lowered = {k.lower(): v for k, v in headers.items()}
    assert parse_delivery(lowered, body, SECRET).item_id == ITEM


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b.replace(b'"updated"', b'"deleted"')),
        lambda h, b: ({k: v for k, v in h.items() if k != "X-Plane-Signature"}, b),
        lambda h, b: ({**h, "X-Plane-Signature": "sha256=" + h["X-Plane-Signature"]}, b),
        lambda h, b: ({**h, "X-Plane-Signature": "0" * 64}, b),
    ],
    ids=["body", "missing", "prefixed", "zeros"],
)
def test_a_tampered_or_unsigned_delivery_is_refused(tamper: Any) -> None:
    headers, body = tamper(*load(delivery("1795248452.299588"))[:2])
    with pytest.raises(InvalidDelivery, match="signature"):
        parse_delivery(headers, body, SECRET)


def test_the_wrong_secret_or_none_is_refused() -> None:
    headers, body, _ = load(delivery("1795248452.299588"))
    assert not verify_signature("another", body, headers["X-Plane-Signature"])
    assert not verify_signature("", body, sign("", body))


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"action": "updated", "data": {}}', "event"),
        (b'{"event": "issue"}', "data"),
    ],
)
def test_signed_garbage_is_refused(body: bytes, match: str) -> None:
    headers = {"X-Plane-Signature": sign(SECRET, body), "X-Plane-Delivery": "d-1"}
    with pytest.raises(InvalidDelivery, match=match):
        parse_delivery(headers, body, SECRET)


def test_a_delivery_without_an_id_is_refused() -> None:
    body = b'{"event": "issue", "action": "created", "data": {"id": "x"}}'
    with pytest.raises(InvalidDelivery, match="X-Plane-Delivery"):
        parse_delivery({"X-Plane-Signature": sign(SECRET, body)}, body, SECRET)
