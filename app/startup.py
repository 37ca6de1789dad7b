"""What must hold before orch runs, checked the same way by `orch run` and `orch doctor`.

A failure of configuration is a ConfigError naming the setting and what to do: the CLI
prints it as one line and exits 2. A token Telegram refuses is such a failure; a
Telegram that cannot be reached is not: `connect_telegram` keeps trying with backoff,
one log line per attempt, and `StartupProgress` (a /readyz check) says what orch waits
for.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from telegram import Bot
from telegram.error import InvalidToken, NetworkError, TelegramError

from core.clock import Clock
from core.errors import ConfigError, StorageError
from storage.database import Database

log = logging.getLogger(__name__)

TOKEN_REFUSED = "is refused by Telegram: check the bot's token with @BotFather"
FIRST_RETRY_S = 1.0
MAX_RETRY_S = 60.0


@dataclass
class StartupProgress:
    """How far start-up got: a /readyz check ("start-up") that fails, saying what orch
    waits for, until orch serves."""

    waiting_for: str | None = "start-up"
    attempts: int = 0
    last_error: str | None = None

    def waiting(self, what: str, error: str | None = None) -> None:
        self.waiting_for, self.last_error = what, error

    def done(self) -> None:
        self.waiting_for, self.last_error = None, None

    async def probe(self) -> str | None:
        if self.waiting_for is None:
            return None
        why = f" (attempt {self.attempts}: {self.last_error})" if self.last_error else ""
        return f"waiting for {self.waiting_for}{why}"


def database_problem(path: str) -> str | None:
    """Why orch could not keep its database at `path`, before even trying; None if fine."""
    if path == ":memory:" or path.startswith("file:"):
        return None
    file = Path(path)
    folder = file.parent if str(file.parent) else Path(".")
    if not folder.exists():
        return f"its folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if file.is_dir():
        return f"{file} is a folder"
    # WAL keeps two files beside the database: the folder itself must be writable
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"its folder {folder} is not writable"
    if file.exists() and not os.access(file, os.R_OK | os.W_OK):
        return f"{file} is not writable"
    if not file.exists():
        try:  # root passes every access check; a folder that takes no files does not
            tempfile.TemporaryFile(dir=folder).close()
        except OSError as exc:
            return f"its folder {folder} takes no new files ({exc.strerror or exc})"
    return None


def unusable_database(path: str, problem: str) -> ConfigError:
    return ConfigError("ORCH_DB_PATH", f"is unusable ({path}: {problem}): give orch a "
                                       f"writable folder")


async def open_database(path: str) -> Database:
    """The database, or a ConfigError naming ORCH_DB_PATH with the reason."""
    problem = database_problem(path)
    if problem is None:
        try:
            return await Database.open(path)
        except StorageError as exc:
            problem = str(exc.__cause__ or exc)
    raise unusable_database(path, problem)


async def connect_telegram(bot: Bot, readiness: StartupProgress, clock: Clock) -> None:
    """Initialise the bot (getMe) until Telegram answers; raises ConfigError for a token
    it refuses. Unreachable is transient: one log line per attempt, then a wait that
    doubles up to a minute."""
    delay = FIRST_RETRY_S
    readiness.waiting("telegram")
    while True:
        readiness.attempts += 1
        try:
            await bot.initialize()
            return
        except InvalidToken as exc:
            raise ConfigError("ORCH_TELEGRAM_TOKEN", TOKEN_REFUSED) from exc
        except (NetworkError, TelegramError) as exc:
            # no traceback: this is a condition to wait out, not a bug to debug
            reason = _reason(exc)
            readiness.waiting("telegram", reason)
            log.warning("telegram unreachable (attempt %d: %s); retrying in %g s",
                        readiness.attempts, reason, delay)
        await clock.sleep(delay)
        delay = min(delay * 2, MAX_RETRY_S)


async def check_telegram(bot: Bot) -> str:
    """One attempt, for `orch doctor`: the line it prints. Raises ConfigError as `run`."""
    try:
        await bot.initialize()
        return f"telegram: ok (@{bot.username})"
    except InvalidToken as exc:
        raise ConfigError("ORCH_TELEGRAM_TOKEN", TOKEN_REFUSED) from exc
    except TelegramError as exc:
        return (f"telegram: unreachable ({_reason(exc)}); orch run would keep trying and "
                f"/readyz would say so")
    finally:
        await bot.shutdown()


def _reason(exc: BaseException) -> str:
    """A short, secret-free reason: the error's class and message (PTB's messages carry no
    URL; the Bot API URL, which holds the token, is never part of them)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


def lease_line(db_path: str) -> str | None:
    """For `orch doctor` (read-only): the line `orch run` would stop with if a live orch
    holds the database, a note if a dead one left it, None if it is free."""
    from core.clock import SystemClock
    from core.instance.lease import LeaseHeld
    from core.jobs.loop import owner_alive
    from storage.instance import read_lease

    holder = read_lease(db_path)
    if holder is None or holder.expires_at <= SystemClock().now():
        return None
    if owner_alive(holder.holder):
        return f"orch: {LeaseHeld(db_path, holder)}"
    return f"database: left by a dead orch ({holder.describe()}); orch run takes it over"
