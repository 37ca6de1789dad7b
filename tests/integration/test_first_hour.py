"""From nothing to a configured orch: `orch init`, `--env-file`, `doctor --listen`."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from app.cli import main
from app.envfile import read_env_file
from app.init_templates import AGENTS
from app.listen import listen
from core.errors import ConfigError
from core.settings.checks import load
from sandbox.team import GROUP, LEAD, sandbox_settings
from sandbox.telegram.emulator import DEFAULT_TOKEN, TelegramEmulator


@pytest.fixture(autouse=True)
def no_orch_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("ORCH_")]:
        monkeypatch.delenv(name)


def init(folder: Path, *flags: str) -> int:
    return main(["init", "--dir", str(folder), "--no-input", *flags])


def loaded(folder: Path) -> dict[str, str]:
    values = read_env_file(folder / ".env")
    return {**values, "ORCH_CONFIG": str(folder / values["ORCH_CONFIG"])}


@pytest.mark.parametrize("agent", AGENTS)
def test_init_writes_files_that_pass_the_start_up_checks(tmp_path: Path, agent: str) -> None:
    status = init(tmp_path, "--agent", agent, "--token", "123:abc", "--chat-id", "-1001",
                  "--approvers", "1,2", "--repo", "api=git@git.example.com:team/api.git",
                  "--plane-url", "https://plane.example.com", "--plane-token", "pk",
                  "--plane-slug", "acme", "--plane-projects", "API")

    assert status == 0
    settings = load(loaded(tmp_path))
    assert settings.approvers == {1, 2} and settings.repo_remotes
    assert settings.plane_options["repos"] == {"API": "api"}
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert "#" in (tmp_path / "orch.toml").read_text(encoding="utf-8")


def test_init_never_overwrites_without_force(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert init(tmp_path) == 0
    (tmp_path / ".env").write_text("ORCH_TELEGRAM_TOKEN=mine\n", encoding="utf-8")

    assert init(tmp_path) == 1
    assert "exists; use --force" in capsys.readouterr().err
    assert (tmp_path / ".env").read_text(encoding="utf-8") == "ORCH_TELEGRAM_TOKEN=mine\n"
    assert init(tmp_path, "--force") == 0


def test_init_asks_what_the_flags_left_open(tmp_path: Path) -> None:
    import argparse

    from app.init import init as run_init

    asked: list[str] = []
    answers = {"Bot token": "9:tok", "chat id": "-1007", "Approvers": "42",
               "Plane's address": "", "Repositories": "web=https://git.example.com/w.git",
               "Agent": "sandbox"}

    def ask(question: str, default: str) -> str:
        asked.append(question)
        return next((v for k, v in answers.items() if k in question), default)

    args = argparse.Namespace(dir=str(tmp_path), force=False, no_input=False, token=None,
                              chat_id=None, approvers=None, plane_url=None, plane_token=None,
                              plane_slug=None, plane_projects=None, repo=[], agent=None,
                              test_command="make test", http_port="")
    assert run_init(args, ask) == 0

    assert not any("Plane API key" in q for q in asked)  # no Plane: no Plane questions
    settings = load(loaded(tmp_path))
    assert (settings.telegram_token, settings.telegram_chat_id) == ("9:tok", -1007)
    assert set(settings.agents) == {"developer", "reviewer", "tester", "deployer"}


def test_doctor_after_init_names_what_is_still_missing_one_line_each(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    init(tmp_path, "--agent", "aider")
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)

    status = main(["--env-file", ".env", "doctor"])

    out = capsys.readouterr().out
    missing = [line.strip() for line in out[out.index("still missing:"):].splitlines()[1:]]
    assert status == 2
    assert [line.split(":")[0] for line in missing] == [
        "- ORCH_TELEGRAM_TOKEN", "- ORCH_TELEGRAM_CHAT_ID", "- ORCH_APPROVERS",
        "- agents.reviewer"]
    assert not (tmp_path / "orch.db").exists()


async def test_a_filled_in_init_gives_a_doctor_with_nothing_missing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    init(tmp_path, "--agent", "sandbox", "--token", DEFAULT_TOKEN, "--chat-id", str(GROUP),
         "--approvers", str(LEAD))
    capsys.readouterr()
    emu = TelegramEmulator()
    async with emu.serve() as url:
        from app.doctor import doctor

        settings = load({**loaded(tmp_path), "ORCH_TELEGRAM_API_URL": url,
                         "ORCH_DB_PATH": str(tmp_path / "orch.db")})
        status = await doctor(settings)

    out = capsys.readouterr().out
    assert status == 0, out
    assert "still missing:" not in out and "telegram: ok" in out


def test_env_file_values_yield_to_the_environment(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / "orch.env"
    env.write_text('# a comment\nexport ORCH_TELEGRAM_TOKEN="1:file"\n\n'
                   "ORCH_TELEGRAM_CHAT_ID=-5\nORCH_LOG_LEVEL='debug'\n", encoding="utf-8")
    monkeypatch.setenv("ORCH_TELEGRAM_CHAT_ID", "-6")

    values = read_env_file(env)

    assert values == {"ORCH_TELEGRAM_TOKEN": "1:file", "ORCH_TELEGRAM_CHAT_ID": "-5",
                      "ORCH_LOG_LEVEL": "debug"}
    from app.envfile import merged
    assert load(merged(os.environ, values)).telegram_chat_id == -6


def test_a_malformed_env_file_is_named(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("ORCH_TELEGRAM_TOKEN 1:x\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="line 1"):
        read_env_file(env)


async def test_listen_prints_the_chat_and_user_ids_it_sees(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    emu = TelegramEmulator()
    emu.create_chat(GROUP, "supergroup", "Team")
    async with emu.serve() as url:
        emu.user_message(GROUP, "/whoami", user_id=LEAD, first_name="Lea", username="lead")
        settings = sandbox_settings(url, tmp_path / "orch.db", telegram_chat_id=0)
        status = await listen(settings, seconds=5, count=1, poll_s=1)

    out = capsys.readouterr().out
    assert status == 0
    assert f"chat {GROUP} (supergroup: Team) · user {LEAD} (@lead) · '/whoami'" in out
    assert "privacy mode is on" in out and DEFAULT_TOKEN not in out
