"""Serve a seeded Plane emulator for manual use and demos:

    python -m sandbox.plane --port 8082 --key demo-key --items 20

Point orch at it with ORCH_PLANE_API_URL=http://127.0.0.1:8082, the same key and
ORCH_PLANE_WORKSPACE_SLUG=acme.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

import uvicorn

from core.clock import SystemClock
from sandbox.plane.app import build_app
from sandbox.plane.emulator import PlaneEmulator


def seed(emulator: PlaneEmulator, identifier: str, items: int) -> None:
    """A project with orch's states and `items` work items in Backlog."""
    emulator.add_project(identifier, "Orchestrator")
    for name, group in (
        ("Approved", "unstarted"),
        ("In Review", "started"),
        ("Blocked", "started"),
    ):
        emulator.add_state(identifier, name, group)
    for n in range(1, items + 1):
        emulator.add_item(identifier, f"Work item {n}")
    emulator.outbox.pending.clear()  # the scene is set up, not news


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.plane",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--key", default="demo-key")
    parser.add_argument("--workspace", default="acme")
    parser.add_argument("--project", default="ORCH")
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--rate-limit", type=int, default=60, help="requests per minute")
    parser.add_argument("--webhook-url", default=None)
    parser.add_argument("--webhook-secret", default="")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    emulator = PlaneEmulator(
        SystemClock(),
        args.key,
        args.workspace,
        rate_limit_per_min=args.rate_limit,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )
    seed(emulator, args.project, args.items)
    config = uvicorn.Config(
        build_app(emulator),
        host=args.host,
        port=args.port,
        lifespan="off",
        ws="none",
        timeout_keep_alive=2,
    )
    print(f"Plane API: http://{args.host}:{args.port}  workspace {args.workspace}", flush=True)
    await uvicorn.Server(config).serve()


def main(argv: list[str] | None = None) -> None:
    # uvicorn re-raises the Ctrl+C it handled once it has shut down cleanly.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_parse_args(argv)))


if __name__ == "__main__":
    main()
