"""TelegramEmulator: the in-process face of the Bot API emulator.

`emu.app` is the ASGI app (Bot API under /bot{token}/{method}, control API under
/control/...); the other methods act as users and read state without going through HTTP.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

from core.clock import SystemClock

from . import user_actions
from .api import BotApiEndpoint
from .context import MethodContext
from .control import control_routes
from .flood import FloodControl, FloodLimits
from .messages import message_to_api, message_view
from .server import serve
from .state import BotState, ChatStats, HistoryEntry, WallClock
from .user_actions import ControlError, User
from .webhook import WebhookDelivery

DEFAULT_TOKEN = "123456789:AAEmulatedTokenForTheOrchSandbox0000"


class TelegramEmulator:
    """A Telegram Bot API server for tests and demos, enforcing Telegram's limits.

    State is kept per bot token; `token=None` in any method means the first bot.
    """

    def __init__(
        self,
        clock: WallClock | None = None,
        token: str = DEFAULT_TOKEN,
        *,
        limits: FloodLimits | None = None,
        bot_username: str = "orch_sandbox_bot",
        bot_first_name: str = "Orch Sandbox",
    ) -> None:
        self.clock: WallClock = clock or SystemClock()
        self.limits = limits or FloodLimits()
        self._bots: dict[str, BotState] = {}
        # awaited with the method's name before a call is carried out: a crash test kills
        # the bot here, inside the round trip of a send
        self.before_call: Callable[[str], Awaitable[None]] | None = None
        self.add_bot(token, username=bot_username, first_name=bot_first_name)
        routes = [
            Route(
                "/bot{token}/{method}",
                BotApiEndpoint(self._context, self._before_call).handle,
                methods=["GET", "POST"],
            )
        ]
        self.app = Starlette(routes=routes + control_routes(self))
        self.webhooks = WebhookDelivery(lambda: list(self._bots.values()), self.clock)

    # --- bots -------------------------------------------------------------------------

    @property
    def tokens(self) -> list[str]:
        return list(self._bots)

    def add_bot(
        self, token: str, *, username: str = "orch_sandbox_bot", first_name: str = "Orch Sandbox"
    ) -> BotState:
        """Accept another token; its id is the number before the colon, as in Telegram."""
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        user = {
            "id": bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self._bots[token] = BotState(token, user, self.limits)
        return self._bots[token]

    def bot(self, token: str | None = None) -> BotState:
        """The raw state of one bot (chats, updates, callbacks, stats, calls)."""
        if token is None:
            return next(iter(self._bots.values()))
        try:
            return self._bots[token]
        except KeyError:
            raise ControlError("unknown bot token", 404) from None

    def set_limits(self, limits: FloodLimits) -> None:
        """Change flood limits; counters start afresh."""
        self.limits = limits
        for bot in self._bots.values():
            bot.flood = FloodControl(limits)

    async def _before_call(self, method: str) -> None:
        if self.before_call is not None:
            await self.before_call(method)

    def _context(self, token: str) -> MethodContext | None:
        bot = self._bots.get(token)
        return MethodContext(bot, self.clock, self.limits) if bot else None

    # --- acting as users ----------------------------------------------------------------

    def create_chat(
        self,
        chat_id: int,
        chat_type: str = "private",
        title: str | None = None,
        *,
        username: str | None = None,
        first_name: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Open a chat ("private" with a positive id, "group"/"supergroup" negative)."""
        chat = user_actions.create_chat(
            self.bot(token), chat_id, chat_type, title, username=username, first_name=first_name
        )
        return chat.to_api()

    def user_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        first_name: str = "User",
        username: str | None = None,
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """A user writes in a chat; returns {"message": Message, "update_id": int}."""
        message, update_id = user_actions.user_message(
            self.bot(token),
            self.clock,
            self._user(chat_id, user_id, first_name, username),
            chat_id,
            text,
            reply_to_message_id=reply_to_message_id,
            message_thread_id=message_thread_id,
        )
        return {"message": message, "update_id": update_id}

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        callback_data: str,
        *,
        user_id: int | None = None,
        first_name: str = "User",
        username: str | None = None,
        force: bool = False,
        token: str | None = None,
    ) -> str:
        """A user presses an inline button; returns the callback query id."""
        query_id, _ = user_actions.press_button(
            self.bot(token),
            self.clock,
            self._user(chat_id, user_id, first_name, username),
            chat_id,
            message_id,
            callback_data,
            force=force,
        )
        return query_id

    @staticmethod
    def _user(chat_id: int, user_id: int | None, first_name: str, username: str | None) -> User:
        if user_id is None:
            if chat_id < 0:
                raise ControlError("user_id is required in a group")
            user_id = chat_id
        return User(user_id, first_name, username)

    # --- reading ------------------------------------------------------------------------

    def chats(self, token: str | None = None) -> list[dict[str, Any]]:
        return [chat.to_api() for chat in self.bot(token).chats.values()]

    def chat_messages(self, chat_id: int, token: str | None = None) -> list[dict[str, Any]]:
        """The chat as a user sees it, oldest first (see messages.message_view)."""
        chat = self.bot(token).chats.get(chat_id)
        if chat is None:
            raise ControlError(f"chat {chat_id} not found", 404)
        return [message_view(m) for m in chat.messages.values()]

    def chat_history(self, chat_id: int, token: str | None = None) -> list[HistoryEntry]:
        """Everything that happened in the chat (posts, edits, presses) in order."""
        chat = self.bot(token).chats.get(chat_id)
        if chat is None:
            raise ControlError(f"chat {chat_id} not found", 404)
        return list(chat.history)

    def chat_view(self, chat_id: int, token: str | None = None) -> dict[str, Any]:
        """Chat, messages and the state version to pass as `since` when waiting for more."""
        bot = self.bot(token)
        messages = self.chat_messages(chat_id, token)
        chat = bot.chats[chat_id].to_api()
        return {"chat": chat, "version": bot.changed.version, "messages": messages}

    def api_message(
        self, chat_id: int, message_id: int, token: str | None = None
    ) -> dict[str, Any]:
        """A stored message in Bot API shape (what getUpdates would carry)."""
        chat = self.bot(token).chats[chat_id]
        return message_to_api(chat, chat.messages[message_id])

    def callback_answer(self, query_id: str, token: str | None = None) -> dict[str, Any] | None:
        """The bot's answerCallbackQuery parameters for a press, or None if unanswered."""
        record = self.bot(token).callbacks.get(query_id)
        if record is None:
            raise ControlError("unknown callback query id", 404)
        return record.answer

    def chat_stats(self, chat_id: int, token: str | None = None) -> ChatStats:
        return self.bot(token).stats.get(chat_id, ChatStats())

    def stats(self, token: str | None = None) -> dict[str, Any]:
        """{"chats": {"<id>": {"sent", "edits", "rate_limited", "errors"}}, "totals": {...}}."""
        bot = self.bot(token)
        chats = {str(cid): dataclasses.asdict(s) for cid, s in bot.stats.items()}
        totals = {key: sum(c[key] for c in chats.values()) for key in ("sent", "edits")}
        totals["rate_limited"] = sum(c["rate_limited"] for c in chats.values())
        totals["calls"] = len(bot.calls)
        return {"chats": chats, "totals": totals}

    def calls(self, method: str | None = None, token: str | None = None) -> list[dict[str, Any]]:
        """The call log, oldest first: method, chat_id, ok, error_code, description, at."""
        records = self.bot(token).calls
        return [
            {**dataclasses.asdict(r), "at": r.at.isoformat()}
            for r in records
            if method is None or r.method == method
        ]

    def busiest_window(self, chat_id: int, span_s: float = 60.0, token: str | None = None,
                       methods: tuple[str, ...] = ("sendMessage", "editMessageText")) -> int:
        """The most successful sends and edits in `chat_id` within any `span_s` seconds."""
        times = sorted(r.at for r in self.bot(token).calls
                       if r.ok and r.chat_id == chat_id and r.method in methods)
        best, start = 0, 0
        for end, moment in enumerate(times):
            while (moment - times[start]).total_seconds() >= span_s:
                start += 1
            best = max(best, end - start + 1)
        return best

    def commands(self, token: str | None = None) -> dict[str, Any]:
        return dict(self.bot(token).commands)

    def waiting_polls(self, token: str | None = None) -> int:
        """How many getUpdates calls are waiting right now."""
        return self.bot(token).waiting_polls

    # --- waiting (no sleeping: every state change wakes the waiters) -------------------------

    async def wait_for(
        self, predicate: Callable[[], bool], within: float = 5.0, token: str | None = None
    ) -> bool:
        """Wait until predicate() is true after some state change; False on timeout."""
        return await self.bot(token).changed.wait_until(predicate, within)

    async def wait_callback_answer(
        self, query_id: str, within: float = 5.0, token: str | None = None
    ) -> dict[str, Any]:
        if not await self.wait_for(
            lambda: self.callback_answer(query_id, token) is not None, within, token
        ):
            raise TimeoutError(f"callback query {query_id} was not answered in {within}s")
        return self.callback_answer(query_id, token) or {}

    async def wait_for_bot_message(
        self,
        chat_id: int,
        after_message_id: int = 0,
        within: float = 5.0,
        token: str | None = None,
    ) -> dict[str, Any]:
        """The first bot message in the chat with an id above `after_message_id`."""

        def found() -> dict[str, Any] | None:
            chat = self.bot(token).chats.get(chat_id)
            messages = chat.messages.values() if chat else []
            return next(
                (
                    message_view(m)
                    for m in messages
                    if m.from_bot and m.message_id > after_message_id
                ),
                None,
            )

        if not await self.wait_for(lambda: found() is not None, within, token):
            raise TimeoutError(f"no bot message in chat {chat_id} within {within}s")
        return found() or {}

    async def wait_for_poll(self, within: float = 5.0, token: str | None = None) -> None:
        """Wait until the bot is inside a getUpdates long poll."""
        if not await self.wait_for(lambda: self.waiting_polls(token) > 0, within, token):
            raise TimeoutError(f"no getUpdates call waited within {within}s")

    # --- lifecycle ----------------------------------------------------------------------

    def reset(self, token: str | None = None) -> None:
        """Forget chats, updates, answers, stats and the call log (update ids keep rising)."""
        bots = [self.bot(token)] if token else list(self._bots.values())
        for bot in bots:
            bot.reset(self.limits)

    def close_polls(self) -> None:
        """End waiting getUpdates calls now (they answer with what is pending)."""
        for bot in self._bots.values():
            bot.closed = True
            bot.changed.notify()

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve over HTTP in this event loop; yields the base URL (bots use f"{url}/bot")."""
        for bot in self._bots.values():
            bot.closed = False
        async with serve(self.app, host, port, before_shutdown=self.close_polls) as url:
            async with self.webhooks.running():
                yield url
