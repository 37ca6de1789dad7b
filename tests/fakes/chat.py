"""Fakes of the chat's outer ports (ChatSender, ChatRenderer): a sender that records and
can be told what Telegram answers, and a renderer whose words are easy to assert on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from core.chat.decide import digest_lines
from core.chat.model import LessonRetirement, Rendered, Retirement, SendOutcome, SendResult
from core.pipeline.tasks import ChangeKind, Task, TaskEvent

BUTTON = json.dumps({"inline_keyboard": [[{"text": "Approve", "callback_data": "x"}]]})


class Killed(BaseException):
    """What a SIGKILL looks like from inside one send: nothing after it runs."""


@dataclass
class Sent:
    method: str
    chat_id: int | None
    text: str
    markup: str | None
    reply_to: int | None = None
    message_id: int = 0


@dataclass
class FakeSender:
    """Implements ChatSender; `script` answers the next calls (default: delivered)."""

    calls: list[Sent] = field(default_factory=list)
    script: list[SendResult | BaseException] = field(default_factory=list)
    next_id: int = 100
    shown: dict[int, tuple[str, str | None]] = field(default_factory=dict)

    async def send(self, chat_id: int | None, text: str, markup: str | None,
                   reply_to: int | None) -> SendResult:
        return self._answer(Sent("send", chat_id, text, markup, reply_to))

    async def edit(self, chat_id: int | None, message_id: int, text: str,
                   markup: str | None) -> SendResult:
        if not self.script and message_id not in self.shown:
            return SendResult(SendOutcome.GONE, detail="message to edit not found")
        if not self.script and self.shown[message_id] == (text, markup):
            return SendResult(SendOutcome.NOT_MODIFIED, message_id)
        return self._answer(Sent("edit", chat_id, text, markup, message_id=message_id))

    def _answer(self, call: Sent) -> SendResult:
        if self.script:
            scripted = self.script.pop(0)
            if isinstance(scripted, BaseException):
                self.calls.append(call)  # it went out; the answer never came back
                raise scripted
            if scripted.outcome is not SendOutcome.SENT:
                return scripted
        if call.method == "send":
            self.next_id += 1
            call.message_id = self.next_id
        self.shown[call.message_id] = (call.text, call.markup)
        self.calls.append(call)
        return SendResult(SendOutcome.SENT, call.message_id)

    def texts(self, method: str = "send") -> list[str]:
        return [c.text for c in self.calls if c.method == method]


class FakeRenderer:
    """Implements ChatRenderer with plain words."""

    async def card(self, task: Task) -> Rendered:
        return Rendered(f"card {task.key} {task.stage} v{task.version}")

    def push(self, event: TaskEvent, task: Task) -> Rendered:
        live = event.kind is ChangeKind.NEEDS_APPROVAL and task.version == event.version
        return Rendered(f"push {event.key} {event.kind}", BUTTON if live else None)

    def digest(self, events: Sequence[TaskEvent]) -> str:
        lines = digest_lines(events)
        return "digest " + ", ".join(f"{d.key}:{d.action or '-'}" for d in lines)

    def retired(self, event: TaskEvent, task: Task, why: Retirement) -> str:
        after = why.next_event.kind if why.next_event else "?"
        return f"push {event.key} {event.kind} / {after} by {why.who}"

    def retired_lesson(self, card: str, why: LessonRetirement) -> str:
        return f"{card} / now {why.status}"
