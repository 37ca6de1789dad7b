"""Serve an ASGI app with uvicorn on 127.0.0.1 inside the running event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.types import ASGIApp

from app.http_server import serve_asgi
from sandbox.plane.app import build_app
from sandbox.plane.emulator import PlaneEmulator


@asynccontextmanager
async def serve(app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run `app` until the block exits; yields its base URL (`http://127.0.0.1:PORT`)."""
    # Plane closes idle keep-alive connections after about 2 s; so does its emulator.
    async with serve_asgi(app, host, port, ws="none", http="h11",
                          timeout_keep_alive=2) as url:
        yield url


@asynccontextmanager
async def serve_emulator(emulator: PlaneEmulator) -> AsyncIterator[str]:
    """Serve a PlaneEmulator; the URL is a PlaneClient's `api_url`."""
    async with serve(build_app(emulator)) as url:
        yield url

