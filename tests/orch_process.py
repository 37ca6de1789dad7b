"""`orch run` as a real process, for the tests that kill it, start it twice or time its
stop. The Telegram emulator (and any other peer) runs in the test's own loop on
127.0.0.1; orch's stderr goes to a file, so a chatty orch never blocks on a pipe."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sandbox.team import GROUP
from sandbox.telegram.emulator import DEFAULT_TOKEN

ROOT = Path(__file__).resolve().parents[1]


def orch_env(telegram_url: str, db_path: Path, **settings: str) -> dict[str, str]:
    """A clean environment (none of ours ORCH_*) for orch against the emulator."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    return {**clean, "ORCH_TELEGRAM_TOKEN": DEFAULT_TOKEN,
            "ORCH_TELEGRAM_CHAT_ID": str(GROUP), "ORCH_TELEGRAM_API_URL": f"{telegram_url}/bot",
            "ORCH_DB_PATH": str(db_path), "ORCH_REPOS_DIR": str(db_path.parent / "repos"),
            "ORCH_JOBS_ENABLED": "false", **settings}


def free_port() -> int:
    """A port nothing listens on right now (for a peer that is not up yet)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OrchProcess:
    """One `orch run`; its stderr is in `log`."""

    proc: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def stop(self, sig: signal.Signals = signal.SIGTERM, within: float = 10.0) -> int:
        """Signal it and wait for it to end; the exit status (fails if it outlives
        `within` seconds)."""
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        try:
            return await asyncio.wait_for(self.proc.wait(), within)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError(f"orch still ran {within:g} s after {sig.name}") from None

    async def ended(self, within: float = 60.0) -> int:
        return await asyncio.wait_for(self.proc.wait(), within)


async def start_orch(env: Mapping[str, str], log: Path) -> OrchProcess:
    with log.open("ab") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "run", cwd=ROOT, env=dict(env),
            stdin=asyncio.subprocess.DEVNULL, stdout=err, stderr=err)
    return OrchProcess(proc, log)


async def doctor(env: Mapping[str, str]) -> tuple[int, str]:
    """`orch doctor` with these settings: (exit status, stdout)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "doctor", cwd=ROOT, env=dict(env),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return await proc.wait(), out.decode()


async def until(check: Callable[[], Awaitable[bool] | bool], within: float = 30.0,
                what: str = "the condition") -> None:
    """Poll a condition about another process until it holds; fails after `within`."""
    deadline = time.monotonic() + within
    for _ in range(100_000):
        result = check()
        if await result if isinstance(result, Awaitable) else result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within:g} s")
        await asyncio.sleep(0.05)
