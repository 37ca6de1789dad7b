"""Start-up as a user meets it, with `orch run` as a real process: every configuration
failure is one line and exit 2, a second orch on a database is refused with its holder
named, and an unreachable Telegram is waited out, not crashed on."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from sandbox.telegram.emulator import TelegramEmulator
from tests.orch_process import doctor, free_port, orch_env, start_orch, until

# A case: (settings to add, given a scratch folder; the setting the line must name).
# Other start-up checks (log level, gate names, ...) belong in this list too.
HAS_PROC = Path("/proc/self").exists()
StartUpCase = tuple[Callable[[Path], dict[str, str]], str]


def _read_only_folder(tmp: Path) -> dict[str, str]:
    folder = tmp / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return {"ORCH_DB_PATH": str(folder / "orch.db")}


def _folder_is_a_file(tmp: Path) -> dict[str, str]:
    (tmp / "a-file").write_text("not a folder")
    return {"ORCH_DB_PATH": str(tmp / "a-file" / "orch.db")}


START_UP_FAILURES: dict[str, StartUpCase] = {
    "token refused": (lambda tmp: {"ORCH_TELEGRAM_TOKEN": "999:refused-token-xyz"},
                      "ORCH_TELEGRAM_TOKEN"),
    "database folder missing": (lambda tmp: {"ORCH_DB_PATH": str(tmp / "nowhere" / "orch.db")},
                                "ORCH_DB_PATH"),
    "database folder is a file": (_folder_is_a_file, "ORCH_DB_PATH"),
    "database folder read-only": (_read_only_folder, "ORCH_DB_PATH"),
    # what root meets instead of a read-only folder: a folder that takes no files at all
    "database folder takes no files": (lambda tmp: {"ORCH_DB_PATH": "/proc/orch.db"},
                                       "ORCH_DB_PATH"),
}


@pytest.fixture
async def telegram() -> AsyncIterator[str]:
    async with TelegramEmulator().serve() as url:
        yield url


@pytest.mark.parametrize("case", START_UP_FAILURES, ids=str)
async def test_a_start_up_failure_is_one_line_and_exit_2(
        case: str, telegram: str, tmp_path: Path) -> None:
    extra, named = START_UP_FAILURES[case]
    if case == "database folder read-only" and os.geteuid() == 0:
        pytest.skip("root writes into a read-only folder")
    if case == "database folder takes no files" and not HAS_PROC:
        pytest.skip("needs Linux's /proc")
    # at WARNING nothing else is logged on a clean start, so the line stands alone
    env = {**orch_env(telegram, tmp_path / "orch.db", ORCH_LOG_LEVEL="WARNING"),
           **extra(tmp_path)}
    orch = await start_orch(env, tmp_path / "orch.log")

    status = await orch.ended()

    lines = orch.stderr().strip().splitlines()
    assert status == 2, orch.stderr()
    assert len(lines) == 1 and lines[0].startswith(f"orch: setting {named} "), lines
    assert "Traceback" not in orch.stderr() and "refused-token-xyz" not in orch.stderr()
    checked, report = await doctor(env)
    assert checked == 1 and lines[0] in report.splitlines()  # doctor says the same


async def test_a_second_orch_on_the_same_database_exits_2_naming_the_first(
        telegram: str, tmp_path: Path) -> None:
    env = orch_env(telegram, tmp_path / "orch.db")
    first = await start_orch(env, tmp_path / "first.log")
    try:
        await until(lambda: "Application started" in first.stderr(), what="the first start")
        second = await start_orch(env, tmp_path / "second.log")

        assert await second.ended() == 2
        lines = second.stderr().strip().splitlines()
        assert len(lines) == 1, lines
        assert re.fullmatch(
            rf"orch: the database {re.escape(str(tmp_path / 'orch.db'))} is held by another "
            rf"orch \(host \S+, pid {first.pid}, since \S+Z\); stop that one first, or give "
            rf"this one its own ORCH_DB_PATH", lines[0]), lines[0]
        assert first.proc.returncode is None  # the first one is not disturbed
        assert lines[0] in (await doctor(env))[1].splitlines()  # doctor says the same
    finally:
        assert await first.stop() == 0
    # once the first has stopped, the database is free again
    third = await start_orch(env, tmp_path / "third.log")
    await until(lambda: "Application started" in third.stderr(), what="the third start")
    assert await third.stop() == 0


async def test_an_unreachable_telegram_is_retried_and_served_once_reachable(
        tmp_path: Path) -> None:
    telegram_port, http_port = free_port(), free_port()
    url = f"http://127.0.0.1:{telegram_port}"
    env = orch_env(url, tmp_path / "orch.db", ORCH_HTTP_PORT=str(http_port))
    orch = await start_orch(env, tmp_path / "orch.log")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as http:
            await until(lambda: orch.stderr().count("telegram unreachable") >= 2,
                        what="two retries")
            waiting = (await http.get("/readyz"))
            assert waiting.status_code == 503 and "start-up" in waiting.json()["failing"]
            problem = waiting.json()["checks"]["start-up"]["problem"]
            assert problem.startswith("waiting for telegram (attempt ")
            emulator = TelegramEmulator()
            async with emulator.serve(port=telegram_port):
                await emulator.wait_for_poll(within=30)  # orch serves: it polls for updates
                ready = await http.get("/readyz")
                assert ready.status_code == 200 and ready.json()["ready"] is True
                assert await orch.stop() == 0
    finally:
        if orch.proc.returncode is None:
            await orch.stop(within=10)
    retries = [line for line in orch.stderr().splitlines() if "telegram unreachable" in line]
    assert len(retries) >= 2
    attempts = [int(m[1]) for line in retries if (m := re.search(r"attempt (\d+):", line))]
    assert attempts == list(range(1, len(retries) + 1))  # one line per attempt
    assert "Traceback" not in orch.stderr()
