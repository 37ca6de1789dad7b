"""`orch run | doctor | init | demo` — the command line.

A missing, unknown or malformed setting ends start-up with exit status 2 and one line
naming it; `orch doctor` runs exactly the same checks before it shows anything.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from collections.abc import Coroutine, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from app import logs
from app.doctor import doctor
from app.envfile import merged, read_env_file
from app.init import add_parser as add_init_parser
from app.init import init
from core.clock import SystemClock
from core.config import Settings
from core.errors import ConfigError, OrchError
from core.instance.lease import LeaseHeld
from core.settings.checks import load
from core.settings.show import secrets_of

__all__ = ["doctor", "main", "run"]

SETTINGS_DOC = "docs/settings.md"
GETTING_STARTED = "docs/getting-started.md"
SHUTDOWN_DEADLINE_S = 9.0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from sandbox.demo import run_demo

            return asyncio.run(run_demo(quiet=args.quiet))
        if args.command == "init":
            return init(args)
        environ = (merged(os.environ, read_env_file(Path(args.env_file))) if args.env_file
                   else os.environ)
        # doctor shows everything and names every missing setting; run stops at the first
        settings = load(environ, require_telegram=args.command != "doctor")
    except ConfigError as exc:
        print(f"orch: {exc.line}", file=sys.stderr)
        return 2
    if args.command == "doctor" and args.listen:
        from app.listen import listen

        return asyncio.run(listen(settings, seconds=args.seconds))
    if args.command == "doctor":
        return asyncio.run(doctor(settings))
    return asyncio.run(run(settings))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orch", description="orch: a Telegram-first control plane for a team's "
                                  "delivery pipeline.",
        epilog=f"New here? Start with {GETTING_STARTED}.")
    parser.add_argument("--version", action="version", version=f"orch {version()}")
    parser.add_argument("--env-file", metavar="FILE",
                        help="read ORCH_* settings from FILE too (the environment wins)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "run", help="run the bot from ORCH_* settings",
        description="Run the bot until SIGINT or SIGTERM. It is configured by ORCH_* "
                    "environment variables and the TOML file named by ORCH_CONFIG; every "
                    f"setting is listed in {SETTINGS_DOC} (`orch doctor` shows yours).")
    doctor_ = sub.add_parser(
        "doctor", help="check the settings like run does, show them (secrets masked), reach "
                       "Telegram and Plane, name what is still missing")
    doctor_.add_argument("--listen", action="store_true",
                         help="print the chat and user ids of messages the bot receives "
                              "(needs only the token): how to find the group's chat id")
    doctor_.add_argument("--seconds", type=float, default=120.0,
                         help="how long --listen waits (default 120)")
    add_init_parser(sub)
    demo = sub.add_parser("demo", help="a scripted team morning against the local sandbox")
    demo.add_argument("--quiet", action="store_true", help="print only the summary line")
    return parser


def version() -> str:
    try:
        return metadata.version("orch")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


async def run(settings: Settings) -> int:
    """Run until SIGINT or SIGTERM. A signal during start-up (Telegram still unreachable,
    say) ends it at once: start-up is cancelled and everything opened so far is closed.
    Start-up failures that are configuration (a refused token, an unusable database, a
    database another orch holds) are one line and exit 2."""
    from app.runtime import running

    logs.configure(settings.log_level, secrets_of(settings))
    stop, serving = asyncio.Event(), asyncio.Event()
    main_task = asyncio.current_task()

    def on_signal() -> None:
        if stop.is_set():
            return
        stop.set()
        _exit_if_still_running_after(SHUTDOWN_DEADLINE_S)
        if not serving.is_set() and main_task is not None:
            main_task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, on_signal)
    redact = logs.RedactSecrets(secrets_of(settings)).redact
    try:
        async with running(settings, SystemClock()) as orch:
            serving.set()
            await _first(stop.wait(), orch.lost.wait())
            lost = orch.lost.is_set()
    except asyncio.CancelledError:
        return 0 if stop.is_set() else 1
    except (ConfigError, LeaseHeld) as exc:
        print(redact(f"orch: {exc.line if isinstance(exc, ConfigError) else exc}"),
              file=sys.stderr)
        return 2
    except OrchError as exc:
        print(f"orch: {redact(str(exc))}", file=sys.stderr)
        return 1
    return 1 if lost else 0


def _exit_if_still_running_after(seconds: float) -> None:
    """The last resort behind a clean stop: whatever hangs, orch is gone within 10 s.
    Its agents die with it (their guards), its open runs are swept at the next start."""

    def too_slow() -> None:
        print(f"orch: still stopping after {seconds:g} s; exiting now", file=sys.stderr,
              flush=True)
        os._exit(1)

    timer = threading.Timer(seconds, too_slow)
    timer.daemon = True
    timer.start()


async def _first(*waits: Coroutine[Any, Any, Any]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    raise SystemExit(main())
