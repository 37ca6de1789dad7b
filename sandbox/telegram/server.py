"""Serve an ASGI app with uvicorn inside the running event loop, on a free loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable

import uvicorn
from starlette.types import ASGIApp


class _Server(uvicorn.Server):
    """uvicorn.Server that announces startup with an event instead of a polled flag."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@contextlib.asynccontextmanager
async def serve(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    before_shutdown: Callable[[], None] | None = None,
) -> AsyncIterator[str]:
    """Run `app` until the block exits; yields its base URL, e.g. "http://127.0.0.1:41234".

    The socket is bound here so port 0 resolves to a free port before uvicorn starts.
    `before_shutdown` lets the app end long-running requests (long polls) so the graceful
    shutdown does not wait for them.
    """
    sock = _bind(host, port)
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name=f"uvicorn {host}:{port}")
    try:
        await _wait_started(server, task)
        bound_host, bound_port = sock.getsockname()[:2]
        yield f"http://{bound_host}:{bound_port}"
    finally:
        if before_shutdown is not None:
            before_shutdown()
        server.should_exit = True
        await task
        sock.close()


def _bind(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP lets asyncio set TCP_NODELAY on accepted connections; with proto 0
    # it skips them and every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


async def _wait_started(server: _Server, task: asyncio.Task[None]) -> None:
    ready = asyncio.create_task(server.ready.wait())
    done, _ = await asyncio.wait({ready, task}, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        task.result()  # re-raise what stopped uvicorn
        raise RuntimeError("uvicorn stopped before it started serving")
