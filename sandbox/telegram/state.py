"""What the emulator remembers per bot token: chats, messages, updates, answers, statistics."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from .flood import FloodControl, FloodLimits

FIRST_UPDATE_ID = 100_000_001


class WallClock(Protocol):
    """Anything with a timezone-aware `now()`, e.g. core.clock.SystemClock or ManualClock."""

    def now(self) -> datetime: ...


class ChangeSignal:
    """Wakes every waiter whenever state changes, so waiters re-check their own condition."""

    def __init__(self) -> None:
        self.version = 0
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        self.version += 1
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait_until(self, predicate: Callable[[], bool], within: float) -> bool:
        """Wait up to `within` seconds until predicate() holds; False if it never did.

        Real time on purpose: waiting is transport, not a Telegram rule.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                return predicate()
            finally:
                self._waiters.discard(waiter)
        return True


@dataclass
class StoredMessage:
    """A message in a chat, as sent (text with markup) and as seen (plain text, entities)."""

    message_id: int
    chat_id: int
    sender: dict[str, Any]
    text: str
    plain_text: str
    entities: list[dict[str, Any]]
    date: datetime
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to_message_id: int | None = None
    message_thread_id: int | None = None
    disable_notification: bool = False
    edit_date: datetime | None = None
    edit_count: int = 0

    @property
    def from_bot(self) -> bool:
        return bool(self.sender.get("is_bot"))

    def content(self) -> tuple[str, list[dict[str, Any]], dict[str, Any] | None]:
        """What "not modified" compares: visible text, entities and markup."""
        return self.plain_text, self.entities, self.reply_markup


@dataclass(frozen=True)
class HistoryEntry:
    """One thing that happened in a chat, in the order it happened: a message posted
    ("message"), edited ("edit", with the text as of that edit) or a button pressed
    ("press", whose record gets the bot's answer later)."""

    kind: str
    at: datetime
    message: StoredMessage
    callback: CallbackRecord | None = None


@dataclass
class Chat:
    """A chat the bot can see; message ids count up per chat, as in Telegram."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    last_message_id: int = 0
    history: list[HistoryEntry] = field(default_factory=list)

    def remember(self, kind: str, message: StoredMessage, at: datetime,
                 callback: CallbackRecord | None = None) -> None:
        """Append to the history a snapshot of `message` as it is now."""
        self.history.append(HistoryEntry(kind, at, replace(message), callback))

    def next_message_id(self) -> int:
        self.last_message_id += 1
        return self.last_message_id

    def to_api(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name"):
            value = getattr(self, key)
            if value:
                chat[key] = value
        return chat


@dataclass
class CallbackRecord:
    """A button press and, once the bot answers, its answerCallbackQuery parameters."""

    id: str
    chat_id: int
    message_id: int
    data: str
    user_id: int
    created: datetime
    answer: dict[str, Any] | None = None


@dataclass
class ChatStats:
    """Per chat counts a test can assert on."""

    sent: int = 0
    edits: int = 0
    rate_limited: int = 0
    errors: int = 0


@dataclass(frozen=True)
class CallRecord:
    """One Bot API call: its method, chat, outcome and clock time."""

    method: str
    chat_id: int | str | None
    ok: bool
    error_code: int | None
    description: str | None
    at: datetime


@dataclass(frozen=True)
class Webhook:
    """Where updates go instead of getUpdates (setWebhook), and the secret they carry."""

    url: str
    secret_token: str | None
    max_connections: int = 40


class BotState:
    """Everything the emulator holds for one bot token."""

    def __init__(self, token: str, bot_user: dict[str, Any], limits: FloodLimits) -> None:
        self.token = token
        self.bot_user = bot_user
        self.changed = ChangeSignal()
        self.next_update_id = FIRST_UPDATE_ID
        self.poll_generation = 0
        self.waiting_polls = 0
        self.closed = False
        self.webhook: Webhook | None = None
        self.webhook_error: tuple[datetime, str] | None = None
        self.reset(limits)

    def reset(self, limits: FloodLimits) -> None:
        """Forget chats, updates and records; update ids keep rising so pollers stay sane."""
        self.chats: dict[int, Chat] = {}
        self.updates: list[dict[str, Any]] = []
        self.allowed_updates: list[str] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.stats: dict[int, ChatStats] = {}
        self.calls: list[CallRecord] = []
        self.flood = FloodControl(limits)
        self.changed.notify()

    @property
    def sender(self) -> dict[str, Any]:
        """The bot as the `from` of its messages (getMe's fields minus the capabilities)."""
        return {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}

    def chat_stats(self, chat_id: int) -> ChatStats:
        return self.stats.setdefault(chat_id, ChatStats())

    def push_update(self, kind: str, payload: dict[str, Any]) -> int:
        update_id = self.next_update_id
        self.next_update_id += 1
        self.updates.append({"update_id": update_id, kind: payload})
        self.changed.notify()
        return update_id

    def confirm(self, offset: int | None) -> None:
        """getUpdates' offset: forget updates below it; a negative one keeps the last -N."""
        if offset is None:
            return
        if offset < 0:
            self.updates = self.updates[offset:]
        else:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]

    def deliverable(self) -> list[dict[str, Any]]:
        """Pending updates of allowed types; others are dropped, as Telegram does."""
        if self.allowed_updates:
            allowed = set(self.allowed_updates)
            self.updates = [u for u in self.updates if _update_kind(u) in allowed]
        return self.updates


def _update_kind(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")
