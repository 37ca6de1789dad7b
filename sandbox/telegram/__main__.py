"""Serve the emulator for manual use: python -m sandbox.telegram --port 8081."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from types import FrameType

import uvicorn

from .emulator import DEFAULT_TOKEN, TelegramEmulator
from .flood import FloodLimits


class _EmulatorServer(uvicorn.Server):
    """On Ctrl+C, also end waiting long polls so the graceful shutdown is immediate."""

    def __init__(self, config: uvicorn.Config, emu: TelegramEmulator) -> None:
        super().__init__(config)
        self.emu = emu
        self.loop = asyncio.get_running_loop()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self.loop.call_soon_threadsafe(self.emu.close_polls)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.telegram", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--burst", type=int, default=3, help="per-chat burst before 429")
    parser.add_argument("--no-flood", action="store_true", help="disable flood limits")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    limits = FloodLimits(per_chat_burst=args.burst, enabled=not args.no_flood)
    emu = TelegramEmulator(token=args.token, limits=limits)
    config = uvicorn.Config(emu.app, host=args.host, port=args.port, lifespan="off")
    url = f"http://{args.host}:{args.port}"
    print(f"Bot API base_url: {url}/bot   (token {args.token})", flush=True)
    print(f"Control API:      {url}/control/chats", flush=True)
    await _EmulatorServer(config, emu).serve()


def main(argv: list[str] | None = None) -> None:
    # uvicorn re-raises the Ctrl+C it handled once it has shut down cleanly.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_parse_args(argv)))


if __name__ == "__main__":
    main()
