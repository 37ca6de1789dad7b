"""Serve an ASGI app with uvicorn on 127.0.0.1 inside the running event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import ASGIApp

from sandbox.plane.app import build_app
from sandbox.plane.emulator import PlaneEmulator

STARTUP_TIMEOUT_S = 10.0


@asynccontextmanager
async def serve(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run `app` until the block exits; yields its base URL (`http://127.0.0.1:PORT`)."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))  # bound here so the port is known before uvicorn starts
    config = uvicorn.Config(
        app,
        lifespan="off",
        ws="none",
        http="h11",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="plane-emulator")
    try:
        await _until_started(server, task)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@asynccontextmanager
async def serve_emulator(emulator: PlaneEmulator) -> AsyncIterator[str]:
    """Serve a PlaneEmulator; the URL is a PlaneClient's `api_url`."""
    async with serve(build_app(emulator)) as url:
        yield url


async def _until_started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    """uvicorn offers no event for this: poll its flag, in real time, briefly."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT_S
    while not server.started:
        if task.done():
            task.result()  # raise what stopped it
            raise RuntimeError("uvicorn stopped before it started")
        if loop.time() > deadline:
            raise TimeoutError("uvicorn did not start in time")
        await asyncio.sleep(0.005)
