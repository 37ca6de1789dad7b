"""`orch doctor` shows readable settings, touches no database, and names what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.doctor import doctor
from core.config import AgentCommand
from sandbox.team import sandbox_settings
from sandbox.telegram.emulator import TelegramEmulator
from storage.database import Database


async def test_doctor_never_creates_the_database(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "orch.db"
    emu = TelegramEmulator()
    async with emu.serve() as url:
        status = await doctor(sandbox_settings(url, db))

    out = capsys.readouterr().out
    assert status == 0
    assert not db.exists() and not db.with_name("orch.db-wal").exists()
    assert f"database: ok ({db} does not exist yet; orch run creates it)" in out


async def test_doctor_reads_an_existing_database_without_changing_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "orch.db"
    opened = await Database.open(db)
    version = await opened.schema_version()
    await opened.close()
    before = db.read_bytes()
    emu = TelegramEmulator()
    async with emu.serve() as url:
        await doctor(sandbox_settings(url, db))

    assert f"schema version {version}" in capsys.readouterr().out
    assert db.read_bytes() == before


async def test_doctor_shows_text_not_python_and_hides_agent_arguments(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    agent = AgentCommand(("/usr/bin/claude", "-p", "--api-key=sk-very-secret"), 900.0)
    emu = TelegramEmulator()
    async with emu.serve() as url:
        status = await doctor(sandbox_settings(
            url, tmp_path / "orch.db", approvers=frozenset({222, 111}), jobs_enabled=True,
            agents={"developer": agent}, repo_remotes={"api": "https://u:pw@git.example/a"}))

    out = capsys.readouterr().out
    assert "frozenset" not in out and "AgentCommand" not in out
    assert "ORCH_APPROVERS" in out and "111, 222" in out
    assert "claude + 2 arguments (hidden), timeout 900 s" in out
    assert "sk-very-secret" not in out and "u:pw" not in out
    assert status == 1  # reviewer, tester and deployer have no agent
    missing = out[out.index("still missing:"):].splitlines()[1:]
    assert [line.split(":")[0].strip() for line in missing] == [
        "- agents.reviewer", "- agents.tester", "- agents.deployer"]


async def test_doctor_and_the_demo_say_when_git_is_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from sandbox.demo import run_demo

    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there: no git
    emu = TelegramEmulator()
    async with emu.serve() as url:
        status = await doctor(sandbox_settings(url, tmp_path / "orch.db", jobs_enabled=True,
                                               approvers=frozenset({1})))

    assert status == 1
    assert "git: FAILED (not found on PATH" in capsys.readouterr().out
    assert await run_demo() == 2
    assert "git is required" in capsys.readouterr().err
