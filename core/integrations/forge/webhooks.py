"""Gitea/Forgejo webhook deliveries: signature check and the hint each one carries.

A delivery is signed with HMAC-SHA256 of the raw body: bare hex in `X-Gitea-Signature`
(`X-Forgejo-Signature` on Forgejo, `X-Hub-Signature-256: sha256=…` on both). Deliveries
are hints that wake the merge gate; polling stays the source of truth.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_SIGNATURES = ("x-gitea-signature", "x-forgejo-signature", "x-gogs-signature")


@dataclass(frozen=True, slots=True)
class ForgeHint:
    """What a delivery says happened: which repository, which branch or PR."""

    delivery: str
    event: str  # pull_request, pull_request_sync, push, …
    repo: str  # owner/name
    action: str = ""  # opened, closed, synchronized, …
    ref: str = ""  # the branch a push moved (without refs/heads/)
    after: str = ""
    pr_number: int | None = None
    pr_merged: bool = False
    head_ref: str = ""


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """True when a signature header matches the body; no secret → nothing verifies."""
    if not secret:
        return False
    lowered = {k.lower(): v for k, v in headers.items()}
    expected = sign(secret, body)
    for name in _SIGNATURES:
        if name in lowered:
            return hmac.compare_digest(lowered[name].strip().lower(), expected)
    hub = lowered.get("x-hub-signature-256", "")
    if hub.startswith("sha256="):
        return hmac.compare_digest(hub.removeprefix("sha256=").strip().lower(), expected)
    return False


def delivery_id(headers: Mapping[str, str]) -> str:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in ("x-gitea-delivery", "x-forgejo-delivery", "x-gogs-delivery"):
        if lowered.get(name):
            return lowered[name].strip()
    return ""


def parse_hint(headers: Mapping[str, str], body: bytes) -> ForgeHint | None:
    """The hint of a delivery, or None for events the merge gate has no use for."""
    lowered = {k.lower(): v for k, v in headers.items()}
    event = (lowered.get("x-gitea-event-type") or lowered.get("x-forgejo-event-type")
             or lowered.get("x-gitea-event") or lowered.get("x-forgejo-event") or "")
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    repo = str((data.get("repository") or {}).get("full_name") or "")
    delivery = delivery_id(headers)
    if event == "push":
        ref = str(data.get("ref") or "")
        return ForgeHint(delivery, event, repo, ref=ref.removeprefix("refs/heads/"),
                         after=str(data.get("after") or ""))
    if event.startswith("pull_request"):
        pr = data.get("pull_request") or {}
        head = pr.get("head") or {}
        return ForgeHint(delivery, event, repo, action=str(data.get("action") or ""),
                         pr_number=_int(data.get("number") or pr.get("number")),
                         pr_merged=bool(pr.get("merged")),
                         head_ref=str(head.get("ref") or ""))
    return None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
