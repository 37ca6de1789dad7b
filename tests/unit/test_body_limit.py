"""BodyLimit at the ASGI level: what the app sees, what the client is answered, and how
much of the body is ever read."""

from __future__ import annotations

from typing import Any

from starlette.types import Message, Receive, Scope, Send

from app.body_limit import BodyLimit


class App:
    """Records the body it was given and answers 200."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


class Client:
    """Feeds the body in chunks and counts how many the server pulled."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks
        self.pulled = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self.pulled >= len(self._chunks):
            return {"type": "http.disconnect"}
        self.pulled += 1
        more = self.pulled < len(self._chunks)
        return {"type": "http.request", "body": self._chunks[self.pulled - 1], "more_body": more}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> Any:
        return self.sent[0]["status"]


def scope(length: int | None) -> Scope:
    headers = [(b"content-length", str(length).encode())] if length is not None else []
    return {"type": "http", "method": "POST", "path": "/hooks/plane", "headers": headers}


async def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    app, client = App(), Client([b"a" * 40, b"b" * 60])

    await BodyLimit(app, max_bytes=100)(scope(None), client.receive, client.send)

    assert client.status == 200 and app.bodies == [b"a" * 40 + b"b" * 60]


async def test_a_declared_length_over_the_limit_is_413_before_any_byte_is_read() -> None:
    app, client = App(), Client([b"x" * 10] * 20)

    await BodyLimit(app, max_bytes=100)(scope(200), client.receive, client.send)

    assert client.status == 413 and client.pulled == 0 and app.bodies == []
    assert b"over 100 bytes" in client.sent[1]["body"]


async def test_a_streamed_body_is_cut_off_as_soon_as_it_passes_the_limit() -> None:
    app, client = App(), Client([b"x" * 30] * 1000)  # chunked: no length declared

    await BodyLimit(app, max_bytes=100)(scope(None), client.receive, client.send)

    assert client.status == 413 and client.pulled == 4 and app.bodies == []


async def test_other_scopes_pass_untouched() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    client = Client([])
    await BodyLimit(app, max_bytes=1)({"type": "lifespan"}, client.receive, client.send)

    assert seen == ["lifespan"] and client.pulled == 0
