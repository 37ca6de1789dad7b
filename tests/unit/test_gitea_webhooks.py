"""Signature checks and hints of real Gitea deliveries (signed with a throwaway secret)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.integrations.forge.webhooks import delivery_id, parse_hint, signature_ok

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gitea"
SECRET = "research-webhook-secret"
DELIVERIES: list[dict[str, Any]] = [
    d for name in ("webhook_deliveries.json", "webhook_deliveries_2.json")
    for d in json.loads((FIXTURES / name).read_text(encoding="utf-8"))
]


def raw(delivery: dict[str, Any]) -> bytes:
    body = json.dumps(delivery["body"], indent=2).encode()  # Gitea's own rendering
    assert len(body) == delivery["raw_len"]
    return body


@pytest.mark.parametrize("delivery", DELIVERIES, ids=lambda d: d["headers"]["X-Gitea-Delivery"])
def test_every_real_delivery_verifies_and_a_wrong_secret_does_not(delivery: dict) -> None:
    body, headers = raw(delivery), delivery["headers"]
    assert signature_ok(SECRET, body, headers)
    assert not signature_ok("another-secret", body, headers)
    assert not signature_ok(SECRET, body + b" ", headers)
    assert not signature_ok("", body, headers)
    hub_only = {k: v for k, v in headers.items() if "Signature" not in k or "256" in k}
    assert signature_ok(SECRET, body, hub_only)
    forgejo = {"X-Forgejo-Signature": headers["X-Gitea-Signature"]}
    assert signature_ok(SECRET, body, forgejo)
    assert delivery_id(headers) == headers["X-Gitea-Delivery"]


def test_the_hints_name_merges_pushes_and_syncs() -> None:
    hints = [parse_hint(d["headers"], raw(d)) for d in DELIVERIES]
    merged = [h for h in hints if h and h.action == "closed" and h.pr_merged]
    pushes_to_main = [h for h in hints if h and h.event == "push" and h.ref == "main"]
    syncs = [h for h in hints if h and h.event == "pull_request_sync"]
    assert len(merged) == 6 and all(h.repo.startswith("forgeadmin/") for h in merged)
    assert len(pushes_to_main) == 6 and all(len(h.after) == 40 for h in pushes_to_main)
    assert {h.action for h in syncs} == {"synchronized"} and all(h.pr_number for h in syncs)
    assert sum(h is None for h in hints) == 5  # branch "create" events: nothing to do
