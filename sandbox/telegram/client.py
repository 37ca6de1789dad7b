"""EmulatorControl: an httpx client for the emulator's /control API (tests and the demo)."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

import httpx


class EmulatorControlError(Exception):
    """The control API refused a request; `status` is the HTTP status."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"{status}: {description}")
        self.status = status
        self.description = description


class EmulatorControl:
    """Acts as Telegram users against a running emulator and reads what they would see.

    Use as `async with EmulatorControl(base_url) as control:`; pass `client` to share one,
    `token` to address a bot other than the emulator's first.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._params = {"token": token} if token else {}
        self._owns_client = client is None
        self._timeout = timeout
        self._client = client or httpx.AsyncClient(timeout=timeout)
        self._base = base_url.rstrip("/") + "/control"

    async def __aenter__(self) -> EmulatorControl:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def _call(self, verb: str, path: str, body: Any = None, **query: Any) -> Any:
        params = {**self._params, **{k: v for k, v in query.items() if v is not None}}
        wait = float(query.get("timeout") or 0)
        response = await self._client.request(
            verb,
            self._base + path,
            json=body,
            params=params,
            timeout=httpx.Timeout(self._timeout + wait),
        )
        try:
            payload = response.json()
        except ValueError:
            raise EmulatorControlError(response.status_code, response.text) from None
        if not payload.get("ok"):
            raise EmulatorControlError(response.status_code, payload.get("description", ""))
        return payload["result"]

    async def create_chat(
        self, chat_id: int, chat_type: str = "private", title: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """POST /control/chats {id, type, title, username?, first_name?} → Chat."""
        body = {"id": chat_id, "type": chat_type, "title": title, **extra}
        return await self._call("POST", "/chats", body)

    async def chats(self) -> list[dict[str, Any]]:
        return await self._call("GET", "/chats")

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        first_name: str = "User",
        username: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """POST /control/messages → {"message": Message, "update_id": int}."""
        body = {
            "chat_id": chat_id,
            "text": text,
            "user_id": user_id,
            "first_name": first_name,
            "username": username,
            "reply_to_message_id": reply_to_message_id,
        }
        return await self._call("POST", "/messages", body)

    async def press_button(
        self,
        chat_id: int,
        message_id: int,
        callback_data: str,
        *,
        user_id: int | None = None,
        first_name: str = "User",
        username: str | None = None,
        force: bool = False,
    ) -> str:
        """POST /control/callbacks → the callback query id."""
        body = {
            "chat_id": chat_id,
            "message_id": message_id,
            "callback_data": callback_data,
            "user_id": user_id,
            "first_name": first_name,
            "username": username,
            "force": force,
        }
        result = await self._call("POST", "/callbacks", body)
        return result["callback_query_id"]

    async def callback(self, query_id: str, *, wait: float = 0) -> dict[str, Any]:
        """GET /control/callbacks/{id}: waits up to `wait` s for the bot's answer."""
        return await self._call("GET", f"/callbacks/{query_id}", timeout=wait)

    async def callback_answer(self, query_id: str, within: float = 5.0) -> dict[str, Any]:
        """The answerCallbackQuery parameters; TimeoutError if the bot did not answer."""
        record = await self.callback(query_id, wait=within)
        if not record["answered"]:
            raise TimeoutError(f"callback query {query_id} was not answered in {within}s")
        return record["answer"]

    async def chat(
        self, chat_id: int, *, since: int | None = None, wait: float = 0
    ) -> dict[str, Any]:
        """GET /control/chats/{id} → {"chat", "version", "messages"}; with `since`, waits
        until the state version passes it (or `wait` seconds run out)."""
        return await self._call("GET", f"/chats/{chat_id}", since=since, timeout=wait)

    async def messages(self, chat_id: int) -> list[dict[str, Any]]:
        return (await self.chat(chat_id))["messages"]

    async def wait_for_bot_message(
        self, chat_id: int, after_message_id: int = 0, within: float = 5.0
    ) -> dict[str, Any]:
        """The first bot message above `after_message_id`, waiting on state changes."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        view = await self.chat(chat_id)
        while True:
            for message in view["messages"]:
                if message["from_bot"] and message["message_id"] > after_message_id:
                    return message
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"no bot message in chat {chat_id} within {within}s")
            view = await self.chat(chat_id, since=view["version"], wait=remaining)

    async def stats(self) -> dict[str, Any]:
        return await self._call("GET", "/stats")

    async def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        return await self._call("GET", "/calls", method=method)

    async def commands(self) -> dict[str, Any]:
        return await self._call("GET", "/commands")

    async def reset(self) -> None:
        await self._call("POST", "/reset")
