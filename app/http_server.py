"""Run an ASGI app with uvicorn inside the current event loop, as an async context manager.

The socket is bound before uvicorn starts, so port 0 means "a free port" and the caller
learns the real one from the yielded URL; startup is announced by an event, not polled.
uvicorn's own logging config and access log are off: request lines would carry paths
and we never want headers (the API token) anywhere near a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import uvicorn
from starlette.types import ASGIApp

SHUTDOWN_GRACE_S = 5


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextlib.asynccontextmanager
async def serve_http(app: ASGIApp, port: int, *, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve `app` until the block exits; yields the base URL, e.g. http://127.0.0.1:8080.

    Loopback unless told otherwise (ORCH_HTTP_HOST): every interface is a choice made
    where one is meant, e.g. the Docker image. Tests pass port 0.
    """
    async with serve_asgi(app, host, port) as url:
        yield url


@contextlib.asynccontextmanager
async def serve_asgi(app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *,
                     before_shutdown: Callable[[], None] | None = None,
                     **config: Any) -> AsyncIterator[str]:
    """The one uvicorn-in-this-loop runner (orch's HTTP face and the sandbox emulators).

    `before_shutdown` lets an app end long requests (long polls) so the graceful
    shutdown need not wait for them; `config` overrides uvicorn.Config settings.
    """
    sock = _bind(host, port)
    settings: dict[str, Any] = {"lifespan": "off", "log_config": None, "access_log": False,
                                "timeout_graceful_shutdown": SHUTDOWN_GRACE_S, **config}
    server = _Server(uvicorn.Config(app, **settings))
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"http {host}:{port}")
    try:
        await _started(server, task)
        bound_host, bound_port = sock.getsockname()[:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        if before_shutdown is not None:
            before_shutdown()
        server.should_exit = True
        await task
        sock.close()


def _bind(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted connections; with proto 0 it
    # skips them and every response waits ~40 ms for a delayed ACK
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


async def _started(server: _Server, task: asyncio.Task[None]) -> None:
    ready = asyncio.create_task(server.ready.wait())
    done, _ = await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        task.result()  # re-raise whatever stopped uvicorn
        raise RuntimeError("the HTTP server stopped before it started serving")
