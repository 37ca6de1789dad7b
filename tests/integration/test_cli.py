"""The command line: clear exit 2 on bad settings, doctor masks secrets and checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import doctor
from sandbox.team import sandbox_settings
from sandbox.telegram.emulator import DEFAULT_TOKEN, TelegramEmulator


def orch(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], env={**clean, **env},
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("env", "named"), [
    ({}, "ORCH_TELEGRAM_TOKEN"),
    ({"ORCH_TELEGRAM_TOKEN": "1:x"}, "ORCH_TELEGRAM_CHAT_ID"),
    ({"ORCH_TELEGRAM_TOKEN": "1:x", "ORCH_TELEGRAM_CHAT_ID": "team"}, "ORCH_TELEGRAM_CHAT_ID"),
    ({"ORCH_TELEGRAM_TOKEN": "1:x", "ORCH_TELEGRAM_CHAT_ID": "-1", "ORCH_HTTP_PORT": "99999"},
     "ORCH_HTTP_PORT"),
])
def test_a_bad_setting_stops_start_up_with_one_line(env: dict[str, str], named: str) -> None:
    result = orch("run", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0]
    assert "Traceback" not in result.stderr


async def test_doctor_masks_secrets_and_checks_token_and_database(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    emu = TelegramEmulator()
    async with emu.serve() as url:
        status = await doctor(sandbox_settings(url, tmp_path / "orch.db"))
        bad = await doctor(sandbox_settings(url, tmp_path / "orch.db",
                                            telegram_token="999:wrong-token-xyz"))
    out = capsys.readouterr().out
    assert status == 0 and bad == 1
    assert DEFAULT_TOKEN not in out and "wrong-token-xyz" not in out
    assert "database: ok" in out and "telegram: ok" in out
    assert "orch: setting ORCH_TELEGRAM_TOKEN is refused by Telegram" in out


async def test_doctor_names_a_configured_plane_state_that_is_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from core.clock import ManualClock
    from sandbox.plane import PlaneEmulator, serve_emulator

    plane = PlaneEmulator(ManualClock(), "plane-key-123456", "acme")
    plane.add_project("WEB", "Web")  # Plane's defaults: no "Approved", no "Blocked"
    emu = TelegramEmulator()
    async with emu.serve() as url, serve_emulator(plane) as plane_url:
        status = await doctor(sandbox_settings(
            url, tmp_path / "orch.db", plane_api_url=plane_url,
            plane_api_token="plane-key-123456", plane_workspace_slug="acme"))
    out = capsys.readouterr().out
    assert status == 1
    assert "no state named 'Approved'" in out and "plane: ok (1 projects followed)" in out
    assert "plane-key-123456" not in out
