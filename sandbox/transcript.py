"""The group chat as a person reads it, in the order things happened.

Built from the emulator's history of the group (every post, every edit of a card, every
button press, in the order the emulator saw them) with the demo's own narration
("(in Plane) lead moves WEB-1 to Done") slotted in where it was said. Times come from
the one manual clock, so they never go backwards; nothing depends on when we looked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.clock import ManualClock
from sandbox.telegram.state import HistoryEntry, StoredMessage

INDENT = "\n        "
SUBJECT = re.compile(r"\b([A-Z][A-Z0-9]*-\d+)\b|\b(Lesson #\d+)")


@dataclass
class Transcript:
    """Narration plus the group's history, rendered as one time-ordered text."""

    clock: ManualClock
    names: dict[int, str]
    history: Callable[[], Sequence[HistoryEntry]]
    _notes: list[tuple[int, datetime, str]] = field(default_factory=list)

    def note(self, text: str) -> None:
        """Narration of something outside the group, placed after what happened so far."""
        self._notes.append((len(self.history()), self.clock.now(), text))

    @property
    def lines(self) -> list[str]:
        lines: list[str] = []
        notes = iter(self._notes)
        pending = next(notes, None)
        shown: dict[int, str] = {}  # message id → what a person last saw of it
        for index, entry in enumerate([*self.history(), None]):
            while pending is not None and pending[0] <= index:
                lines.append(f"[{pending[1]:%H:%M}] {pending[2]}")
                pending = next(notes, None)
            if entry is None:
                continue
            seen = _visible(entry.message)
            if entry.kind == "edit" and shown.get(entry.message.message_id) == seen:
                continue  # only the buttons' hidden data changed: nobody sees a thing
            shown[entry.message.message_id] = seen
            lines.append(f"[{entry.at:%H:%M}] {self._entry(entry)}")
        return lines

    def render(self) -> str:
        return "\n".join(self.lines)

    def _entry(self, entry: HistoryEntry) -> str:
        message = entry.message
        if entry.kind == "press" and entry.callback is not None:
            record = entry.callback
            label = _label(message, record.data)
            answer = (record.answer or {}).get("text") or ""
            return (f"{self.names.get(record.user_id, str(record.user_id))} pressed [{label}] "
                    f"on {_subject(message)} → «{answer}»")
        lines = message.plain_text.splitlines()
        if entry.kind == "edit" and len(lines) >= 3 and " → " in lines[2]:
            # a task card: its title and "since" line say little; progress and notes tell
            return f"orch ✎ {_subject(message)}'s card now: {' · '.join(lines[2:])}" + (
                _buttons(message))
        if entry.kind == "edit":
            text = message.plain_text.replace("\n", INDENT) + _buttons(message)
            return f"orch ✎ {_subject(message)}'s card now: {text}"
        text = message.plain_text.replace("\n", INDENT) + _buttons(message)
        return f"{self._sender(message)}: {text}"

    def _sender(self, message: StoredMessage) -> str:
        if message.from_bot:
            return "orch"
        sender = message.sender
        return self.names.get(sender.get("id", 0), sender.get("first_name", "someone"))


def _visible(message: StoredMessage) -> str:
    return message.plain_text + _buttons(message)


def _subject(message: StoredMessage) -> str:
    found = SUBJECT.search(message.plain_text)
    return (found.group(1) or found.group(2).lower()) if found else "a message"


def _label(message: StoredMessage, data: str) -> str:
    for row in (message.reply_markup or {}).get("inline_keyboard", []):
        for button in row:
            if button.get("callback_data") == data:
                return str(button["text"])
    return "a button the card no longer shows"


def _buttons(message: StoredMessage) -> str:
    markup = message.reply_markup or {}
    labels = [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
    return ("  " + " ".join(f"[{label}]" for label in labels)) if labels else ""
