"""Serve a GiteaEmulator on 127.0.0.1 inside the running event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sandbox.gitea.app import build_app
from sandbox.gitea.emulator import GiteaEmulator
from sandbox.plane.server import serve


@asynccontextmanager
async def serve_gitea(emu: GiteaEmulator) -> AsyncIterator[str]:
    """Yields the server's base URL (a GiteaHttp's `url`); the emulator learns it too."""
    async with serve(build_app(emu)) as url:
        emu.base_url = url
        yield url
