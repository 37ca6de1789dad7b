"""The group chat as a person reads it, written down step by step for the demo."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.clock import ManualClock, parse_iso


@dataclass
class Transcript:
    """Prints what is new in the chat since the last look: messages, edits, presses."""

    clock: ManualClock
    names: dict[int, str]
    lines: list[str] = field(default_factory=list)
    _seen: dict[int, int] = field(default_factory=dict)

    def note(self, text: str) -> None:
        self.lines.append(f"[{self.clock.now():%H:%M}] {text}")

    def pressed(self, user: int, label: str, key: str, answer: dict[str, Any]) -> None:
        who = self.names.get(user, str(user))
        self.note(f"{who} pressed [{label}] on {key} → «{answer.get('text', '')}»")

    def look(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            known = self._seen.get(message["message_id"])
            if known is None:
                self._seen[message["message_id"]] = message["edit_count"]
                self._add(message, edited=False)
            elif message["edit_count"] > known:
                self._seen[message["message_id"]] = message["edit_count"]
                self._add(message, edited=True)

    def _add(self, message: dict[str, Any], *, edited: bool) -> None:
        when = parse_iso(message["edit_date"] or message["date"]) if edited else parse_iso(
            message["date"])
        who = "orch" if message["from_bot"] else self._sender(message)
        mark = " ✎ card edited in place:" if edited else ":"
        text = message["plain_text"].replace("\n", "\n        ")
        buttons = _buttons(message)
        self.lines.append(f"[{when:%H:%M}] {who}{mark} {text}{buttons}")

    def _sender(self, message: dict[str, Any]) -> str:
        sender = message.get("from") or {}
        return self.names.get(sender.get("id", 0), sender.get("first_name", "someone"))

    def render(self) -> str:
        return "\n".join(self.lines)


def _buttons(message: dict[str, Any]) -> str:
    markup = message.get("reply_markup") or {}
    labels = [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
    return ("  " + " ".join(f"[{label}]" for label in labels)) if labels else ""
