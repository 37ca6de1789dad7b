"""What the outbox holds and what a delivery attempt comes back with."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum

from core.pipeline.tasks import TaskEvent


class RowKind(StrEnum):
    EVENT = "event"  # a task changed: its card, and maybe a push
    REPLY = "reply"  # an answer to a command, in order
    ALERT = "alert"  # news about no single task (a dependency cycle)
    DIGEST = "digest"  # pushes folded into one message
    CARD = "card"  # the first message of a task's card
    EDIT = "edit"  # a change to a message already sent (a lesson card)
    REFUSAL = "refusal"  # "this bot works for one group", to another chat


TALK = frozenset({RowKind.REPLY, RowKind.ALERT, RowKind.DIGEST, RowKind.EDIT, RowKind.REFUSAL})


@dataclass(frozen=True, slots=True)
class OutRow:
    """One promised message. chat_id None is the team's group."""

    id: int
    kind: RowKind
    chat_id: int | None = None
    task_id: int | None = None
    version: int | None = None
    reply_to: int | None = None
    edit_message_id: int | None = None
    body: str | None = None
    markup: str | None = None
    attempts: int = 0
    not_before: datetime | None = None
    event: TaskEvent | None = None
    message_id: int | None = None
    lesson_id: int | None = None  # a lesson card (its buttons act on that lesson)


@dataclass(frozen=True, slots=True)
class Rendered:
    """Text (Telegram HTML) and an inline keyboard as JSON, or None."""

    text: str
    markup: str | None = None

    def fingerprint(self) -> str:
        """What a card's content hash is: text and buttons, nothing else."""
        payload = self.text + "\x00" + (self.markup or "")
        return hashlib.sha256(payload.encode()).hexdigest()


class SendOutcome(StrEnum):
    SENT = "sent"
    NOT_MODIFIED = "not_modified"  # an edit to identical content: expected, not an error
    GONE = "gone"  # the message to edit no longer exists
    RETRY_AFTER = "retry_after"  # 429: wait and try again, nothing went out
    TRANSIENT = "transient"  # network or 5xx: try again later
    REFUSED = "refused"  # 400/403: trying again would not help


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: SendOutcome
    message_id: int | None = None
    retry_after_s: float = 0.0
    detail: str = ""

    @property
    def landed(self) -> bool:
        """The chat shows what we meant (sent, or an edit that was already there)."""
        return self.outcome in (SendOutcome.SENT, SendOutcome.NOT_MODIFIED)


@dataclass(frozen=True, slots=True)
class ShownCard:
    """Which message is a task's card and what it shows."""

    task_id: int
    message_id: int
    shown_version: int
    content_hash: str


@dataclass(frozen=True, slots=True)
class Retirement:
    """A sent push whose buttons no longer apply, and what happened instead."""

    row: OutRow
    next_event: TaskEvent | None
    who: str | None
    at: datetime | None


@dataclass(frozen=True, slots=True)
class LessonRetirement:
    """A lesson card whose buttons are for a version of the lesson that is gone: its
    status now (None: the lesson is gone too) and since when."""

    row: OutRow
    status: str | None
    at: datetime | None


@dataclass
class ChatStats:
    """What the courier did, kept in SQLite so /queue tells the truth across restarts."""

    pushes: int = 0
    digests: int = 0
    sent: int = 0
    edits: int = 0
    deduped: int = 0
    retry_after_waits: int = 0
    retries: int = 0
    give_ups: int = 0
    maybe_twice: int = 0
    errors: int = 0

    @classmethod
    def loaded(cls, counters: dict[str, int]) -> ChatStats:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in counters.items() if k in known})

    def bump(self, name: str) -> None:
        setattr(self, name, getattr(self, name) + 1)
