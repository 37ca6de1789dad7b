"""`orch run | doctor | demo` — the command line.

A missing or malformed setting ends start-up with exit status 2 and one line naming it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from app import logs
from core.clock import SystemClock
from core.config import SECRET_FIELDS, Settings
from core.errors import ConfigError, OrchError
from core.sync.config import SyncConfig
from core.tracker import TrackerProject


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="orch", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot from ORCH_* settings")
    sub.add_parser("doctor", help="show the settings (secrets masked) and check them")
    demo = sub.add_parser("demo", help="a scripted team morning against the local sandbox")
    demo.add_argument("--quiet", action="store_true", help="print only the summary line")
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            from sandbox.demo import run_demo

            return asyncio.run(run_demo(quiet=args.quiet))
        settings = Settings.from_env(os.environ)
        config = SyncConfig.from_settings(settings)  # the [plane] options fail here, not later
        config.check_key_prefix(settings.task_key_prefix, [
            TrackerProject(name, name, name) for name in settings.plane_projects])
    except ConfigError as exc:
        print(f"orch: setting {exc.setting} {_expected(exc)}", file=sys.stderr)
        return 2
    if args.command == "doctor":
        return asyncio.run(doctor(settings))
    return asyncio.run(run(settings))


def _expected(exc: ConfigError) -> str:
    return exc.expected if exc.expected.startswith("is ") else f"is malformed: {exc.expected}"


def _secrets(settings: Settings) -> list[str]:
    return [str(getattr(settings, name)) for name in SECRET_FIELDS if getattr(settings, name)]


async def run(settings: Settings) -> int:
    """Run until SIGINT or SIGTERM."""
    from app.runtime import running

    logs.configure(settings.log_level, _secrets(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with running(settings, SystemClock()):
            await stop.wait()
    except ConfigError as exc:
        print(f"orch: setting {exc.setting} {_expected(exc)}", file=sys.stderr)
        return 2
    except OrchError as exc:
        print(f"orch: {logs.RedactSecrets(_secrets(settings)).redact(str(exc))}",
              file=sys.stderr)
        return 1
    return 0


async def doctor(settings: Settings) -> int:
    """Print the resolved configuration and check the database and the token."""
    for name, value in settings.masked().items():
        print(f"{name:28} {value}")
    checks = [await _check_database(settings), await _check_telegram(settings),
              await _check_plane(settings)]
    return 0 if all(checks) else 1


async def _check_database(settings: Settings) -> bool:
    from storage.database import Database

    try:
        db = await Database.open(settings.db_path)
    except OrchError as exc:
        print(f"database: FAILED ({exc})")
        return False
    version = await db.schema_version()
    await db.close()
    print(f"database: ok ({settings.db_path}, schema version {version})")
    return True


async def _check_telegram(settings: Settings) -> bool:
    from telegram import Bot
    from telegram.error import InvalidToken, TelegramError

    from bot.app import api_base

    redact = logs.RedactSecrets(_secrets(settings)).redact
    try:
        async with Bot(settings.telegram_token, base_url=api_base(settings.telegram_api_url)) as b:
            me = b.bot
    except InvalidToken:
        print("telegram: FAILED (the token was refused)")
        return False
    except TelegramError as exc:
        print(f"telegram: FAILED ({redact(str(exc))})")
        return False
    print(f"telegram: ok (@{me.username})")
    return True



async def _check_plane(settings: Settings) -> bool:
    """Reach Plane, and name every configured state that a followed project lacks."""
    from app.plane_sync import plane_configured
    from core.clock import SystemClock
    from core.integrations.plane.client import PlaneClient
    from core.sync.states_cache import StatesCache

    if not plane_configured(settings):
        print("plane: not configured")
        return True
    redact = logs.RedactSecrets(_secrets(settings)).redact
    async with PlaneClient.from_settings(settings, SystemClock()) as client:
        try:
            projects = await client.projects()
            cache = StatesCache(client, SystemClock(), names=settings.plane_state_names)
            followed = [p for p in projects if not settings.plane_projects
                        or p.identifier in settings.plane_projects]
            for project in followed:
                await cache.reload(project.id)
        except OrchError as exc:
            print(f"plane: FAILED ({redact(str(exc))})")
            return False
    for missing in cache.missing_names():
        print(f"plane: project {missing.project_id} has no state named {missing.name!r} "
              f"(for {missing.logical}); set [plane.states] {missing.logical} in ORCH_CONFIG")
    print(f"plane: ok ({len(followed)} projects followed)")
    return not cache.missing_names()

if __name__ == "__main__":
    raise SystemExit(main())
