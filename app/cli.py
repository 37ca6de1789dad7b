"""`orch run | doctor | demo` — the command line.

A missing or malformed setting ends start-up with exit status 2 and one line naming it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from collections.abc import Coroutine, Sequence
from typing import Any

from app import logs
from core.clock import SystemClock
from core.config import SECRET_FIELDS, Settings
from core.errors import ConfigError, OrchError
from core.instance.lease import LeaseHeld
from core.sync.config import SyncConfig

SHUTDOWN_DEADLINE_S = 9.0


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
        SyncConfig.from_settings(settings)  # the [plane] options fail here, not later
    except ConfigError as exc:
        print(config_line(exc), file=sys.stderr)
        return 2
    if args.command == "doctor":
        return asyncio.run(doctor(settings))
    return asyncio.run(run(settings))


def config_line(exc: ConfigError) -> str:
    """The one line a configuration failure ends start-up with (and doctor prints)."""
    expected = exc.expected if exc.expected.startswith("is ") else \
        f"is malformed: {exc.expected}"
    return f"orch: setting {exc.setting} {expected}"


def _secrets(settings: Settings) -> list[str]:
    return [str(getattr(settings, name)) for name in SECRET_FIELDS if getattr(settings, name)]


async def run(settings: Settings) -> int:
    """Run until SIGINT or SIGTERM. A signal during start-up (Telegram still unreachable,
    say) ends it at once: start-up is cancelled and everything opened so far is closed."""
    from app.runtime import running

    logs.configure(settings.log_level, _secrets(settings))
    stop = asyncio.Event()
    main_task = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            return
        stop.set()
        _exit_if_still_running_after(SHUTDOWN_DEADLINE_S)
        if not serving.is_set() and main_task is not None:
            main_task.cancel()

    serving = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    redact = logs.RedactSecrets(_secrets(settings)).redact
    try:
        async with running(settings, SystemClock()) as orch:
            serving.set()
            await _first(stop.wait(), orch.lost.wait())
            lost = orch.lost.is_set()
    except asyncio.CancelledError:
        return 0 if stop.is_set() else 1
    except ConfigError as exc:
        print(redact(config_line(exc)), file=sys.stderr)
        return 2
    except LeaseHeld as exc:
        print(f"orch: {exc}", file=sys.stderr)
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


async def doctor(settings: Settings) -> int:
    """Print the resolved configuration and check the database and the token."""
    for name, value in settings.masked().items():
        print(f"{name:28} {value}")
    checks = [await _check_database(settings), await _check_telegram(settings),
              await _check_plane(settings)]
    return 0 if all(checks) else 1


async def _check_database(settings: Settings) -> bool:
    """As `orch run` opens it: usable or the same one line; and who holds it, if anyone."""
    from app.startup import lease_line, open_database

    try:
        db = await open_database(settings.db_path)
    except ConfigError as exc:
        print(config_line(exc))
        return False
    try:
        version = await db.schema_version()
        held = await lease_line(db, settings.db_path)
    finally:
        await db.close()
    print(f"database: ok ({settings.db_path}, schema version {version})")
    if held:
        print(held)
    return True


async def _check_telegram(settings: Settings) -> bool:
    """As `orch run` starts: a refused token is the same one line; unreachable is said."""
    from telegram import Bot

    from app.startup import check_telegram
    from bot.app import api_base

    redact = logs.RedactSecrets(_secrets(settings)).redact
    bot = Bot(settings.telegram_token, base_url=api_base(settings.telegram_api_url))
    try:
        line = await check_telegram(bot)
    except ConfigError as exc:
        print(redact(config_line(exc)))
        return False
    print(redact(line))
    return line.startswith("telegram: ok")


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
