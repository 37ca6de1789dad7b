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
from collections.abc import Sequence
from importlib import metadata

from app import logs
from app.doctor import doctor
from core.clock import SystemClock
from core.config import Settings
from core.errors import ConfigError, OrchError
from core.settings.checks import load, missing_required
from core.settings.show import secrets_of

__all__ = ["doctor", "main", "run"]

SETTINGS_DOC = "docs/settings.md"
GETTING_STARTED = "docs/getting-started.md"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            from sandbox.demo import run_demo

            return asyncio.run(run_demo(quiet=args.quiet))
        settings = load(os.environ, require_telegram=args.command != "doctor")
    except ConfigError as exc:
        print(f"orch: {exc.line}", file=sys.stderr)
        return 2
    if args.command == "doctor":
        missing = missing_required(settings)
        for name in missing:  # all of them at once: the first hour fills them in one go
            print(f"orch: setting {name} is required", file=sys.stderr)
        return 2 if missing else asyncio.run(doctor(settings))
    return asyncio.run(run(settings))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orch", description=__doc__.splitlines()[0],
        epilog=f"New here? Start with {GETTING_STARTED}.")
    parser.add_argument("--version", action="version", version=f"orch {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "run", help="run the bot from ORCH_* settings",
        description="Run the bot until SIGINT or SIGTERM. It is configured by ORCH_* "
                    "environment variables and the TOML file named by ORCH_CONFIG; every "
                    f"setting is listed in {SETTINGS_DOC} (`orch doctor` shows yours).")
    sub.add_parser("doctor", help="check the settings like run does, show them (secrets "
                                  "masked), reach Telegram and Plane, name what is missing")
    demo = sub.add_parser("demo", help="a scripted team morning against the local sandbox")
    demo.add_argument("--quiet", action="store_true", help="print only the summary line")
    return parser


def version() -> str:
    try:
        return metadata.version("orch")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


async def run(settings: Settings) -> int:
    """Run until SIGINT or SIGTERM."""
    from app.runtime import running

    logs.configure(settings.log_level, secrets_of(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with running(settings, SystemClock()):
            await stop.wait()
    except OrchError as exc:
        print(f"orch: {logs.RedactSecrets(secrets_of(settings)).redact(str(exc))}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
