"""Inline-button data: built and parsed here and nowhere else.

Format: `<ns>:<action>:<id>:<version>:<tag>`, e.g. `t:ap:42:7:9f2c1a0b`. The tag is a
truncated HMAC over the rest, keyed from the bot token, so data that our bot did not
send is recognised as forged rather than merely malformed. Telegram allows 64 bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

MAX_BYTES = 64
_TAG_CHARS = 10
_PATTERN = re.compile(r"^([a-z]):([a-z][a-z0-9]):(\d{1,12}):(\d{1,9}):([0-9a-f]{10})$")


class Namespace(StrEnum):
    TASK = "t"
    LESSON = "l"
    SYNC = "s"


class Action(StrEnum):
    APPROVE = "ap"
    UNBLOCK = "ub"
    CANCEL = "cx"
    RETRY = "rt"
    CLOSE = "cl"
    IN_PROGRESS = "ip"
    CONFIRM = "cf"
    ATTRIBUTE_PLATFORM = "a1"
    ATTRIBUTE_PROJECT = "a2"
    ATTRIBUTE_BOTH = "a3"


@dataclass(frozen=True, slots=True)
class ButtonData:
    """What a button press asks for: an action on an object at the version shown."""

    namespace: Namespace
    action: Action
    object_id: int
    version: int


class BadButtonData(ValueError):
    """The data cannot be trusted; `forged` when well-formed but not signed by us."""

    def __init__(self, message: str, *, forged: bool = False) -> None:
        super().__init__(message)
        self.forged = forged


class ButtonCodec:
    """Encodes and verifies button data with a key derived from a secret."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"orch-buttons:" + secret.encode()).digest()

    def encode(self, data: ButtonData) -> str:
        body = f"{data.namespace.value}:{data.action.value}:{data.object_id}:{data.version}"
        text = f"{body}:{self._tag(body)}"
        if len(text.encode()) > MAX_BYTES:
            raise ValueError(f"button data over {MAX_BYTES} bytes: {text!r}")
        return text

    def decode(self, raw: str | None) -> ButtonData:
        """The button's meaning; BadButtonData for anything we did not produce."""
        if not raw or len(raw.encode("utf-8", "replace")) > MAX_BYTES:
            raise BadButtonData("button data missing or oversize")
        match = _PATTERN.match(raw)
        if match is None:
            raise BadButtonData("button data malformed")
        ns, action, object_id, version, tag = match.groups()
        body = raw.rsplit(":", 1)[0]
        if not hmac.compare_digest(tag, self._tag(body)):
            raise BadButtonData("button data not signed by this bot", forged=True)
        try:
            return ButtonData(Namespace(ns), Action(action), int(object_id), int(version))
        except ValueError as exc:
            raise BadButtonData("button data names an unknown action", forged=True) from exc

    def _tag(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()[:_TAG_CHARS]
