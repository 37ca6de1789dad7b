"""`orch doctor`: the start-up checks, the settings as text, then the outside world.

The settings it shows passed exactly the checks `orch run` makes before it starts
(core.settings.checks.load). Then it reaches the database (read-only: a missing file is
reported, never created), Telegram and Plane, and lists what a working team still
lacks, one line each, required settings first. Exit status: 0 ready; 1 something failed
or a working team lacks something; 2 a required setting is missing (`orch run` would
stop at start-up, as it does for every other problem doctor reports with exit 2).
"""

from __future__ import annotations

import asyncio
import shutil

from app import logs
from core.clock import SystemClock
from core.config import Settings
from core.errors import ConfigError, OrchError
from core.settings.checks import gaps, missing_required
from core.settings.show import listing, secrets_of


async def doctor(settings: Settings) -> int:
    """Print the resolved configuration, check what it points at, name what is missing."""
    print_settings(settings)
    print()
    required = [f"{name}: required (orch run stops without it)"
                for name in missing_required(settings)]
    checks = [_check_git(settings), await _check_database(settings),
              await _check_telegram(settings) if settings.telegram_token else True,
              await _check_tracker(settings), await _check_forge(settings)]
    missing = required + gaps(settings)
    if missing:
        print("\nstill missing:")
        for line in missing:
            print(f"  - {line}")
    if required:
        return 2
    return 0 if all(checks) and not missing else 1


def print_settings(settings: Settings) -> None:
    for group, rows in listing(settings):
        print(group)
        width = max(len(name) for name, _ in rows) if rows else 0
        for name, value in rows:
            print(f"  {name:{width}}  {value}")


def _check_git(settings: Settings) -> bool:
    """Agents work in git worktrees: without git no task gets past its first stage."""
    if not settings.jobs_enabled:
        return True
    found = shutil.which("git")
    print(f"git: ok ({found})" if found else
          "git: FAILED (not found on PATH: agents work in git worktrees; install git)")
    return found is not None


async def _check_database(settings: Settings) -> bool:
    from app.startup import database_problem, lease_line, unusable_database
    from storage.inspect import inspect_database

    problem = database_problem(settings.db_path)
    if problem is not None:  # the very line `orch run` stops with
        print(f"orch: {unusable_database(settings.db_path, problem).line}")
        return False
    held = await asyncio.to_thread(lease_line, settings.db_path)
    if held:
        print(held)
    try:
        report = await asyncio.to_thread(inspect_database, settings.db_path)
    except OrchError as exc:
        print(f"database: FAILED ({exc})")
        return False
    print(f"database: {'ok' if report.ok else 'FAILED'} ({report.text})")
    return report.ok


async def _check_telegram(settings: Settings) -> bool:
    """As `orch run` starts: a refused token is the same one line; unreachable is said."""
    from telegram import Bot

    from app.startup import check_telegram
    from bot.app import api_base

    redact = logs.RedactSecrets(secrets_of(settings)).redact
    bot = Bot(settings.telegram_token, base_url=api_base(settings.telegram_api_url))
    try:
        line = await check_telegram(bot)
    except ConfigError as exc:
        print(redact(f"orch: {exc.line}"))
        return False
    print(redact(line))
    if not line.startswith("telegram: ok"):
        return False
    print(redact(await _webhook_line(settings)))
    return True


async def _webhook_line(settings: Settings) -> str:
    """The webhook as Telegram sees it (getWebhookInfo): pending updates, last error."""
    from telegram import Bot
    from telegram.error import TelegramError

    from app.telegram_webhook import describe
    from bot.app import api_base

    try:
        async with Bot(settings.telegram_token,
                       base_url=api_base(settings.telegram_api_url)) as bot:
            return "telegram webhook: " + describe(await bot.get_webhook_info())
    except TelegramError as exc:
        return f"telegram webhook: unknown ({type(exc).__name__})"


async def _check_forge(settings: Settings) -> bool:
    from app.merge_wiring import doctor_forge

    return await doctor_forge(settings, print)


async def _check_tracker(settings: Settings) -> bool:
    """Reach the configured tracker through its kind (as the sync does), and name every
    configured state that a followed project lacks."""
    from app.trackers import configured_tracker
    from core.sync.states_cache import StatesCache

    kind = configured_tracker(settings)
    if kind is None:
        print("tracker: not configured (optional: tasks then come only from /new)")
        return True
    redact = logs.RedactSecrets(secrets_of(settings)).redact
    connection = kind.connect(settings, SystemClock())
    try:
        projects = await connection.client.projects()
        cache = StatesCache(connection.client, SystemClock(), names=connection.state_names)
        followed = [p for p in projects if connection.config.follows(p.id, p.identifier)]
        for project in followed:
            await cache.reload(project.id)
    except OrchError as exc:
        print(f"{kind.name}: FAILED ({redact(str(exc))})")
        return False
    finally:
        await connection.close()
    for missing in cache.missing_names():
        print(f"{kind.name}: project {missing.project_id} has no state named {missing.name!r} "
              f"(for {missing.logical}); set [{kind.name}.states] {missing.logical} in "
              f"ORCH_CONFIG")
    print(f"{kind.name}: ok ({len(followed)} projects followed)")
    return not cache.missing_names()
