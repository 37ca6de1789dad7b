"""Every bad configuration stops `orch run` and `orch doctor` alike: exit 2, one line
that names the setting or the file's key, and a "did you mean" for a misspelling."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main

BASE = {"ORCH_TELEGRAM_TOKEN": "123:abc-secret-token", "ORCH_TELEGRAM_CHAT_ID": "-100123"}
STAGES = '[[pipeline.stages]]\nname = "development"\nrole = "developer"\n'

# (id, extra environment, ORCH_CONFIG text or None, words the one line must hold)
CASES = [
    ("unknown key in [pipeline]", {}, "[pipeline]\nstage = []\n",
     ["pipeline.stage", "did you mean pipeline.stages?"]),
    ("misspelled table", {}, "[pipline]\nstages = []\n",
     ["[pipline]", "did you mean [pipeline]?"]),
    ("unknown top-level key", {}, "stages = 3\n", ["stages is unknown"]),
    ("unknown key in [plane]", {}, "[plane]\nstart_aproved = true\n",
     ["plane.start_aproved", "did you mean plane.start_approved?"]),
    ("misspelled plane table", {}, '[plane.stats]\napproved = "Ready"\n',
     ["[plane.stats]", "did you mean [plane.states]?"]),
    ("misspelled role", {}, '[agents.developr]\ncommand = ["x"]\n',
     ["[agents.developr]", "did you mean developer?"]),
    ("unknown agent key", {}, '[agents.developer]\ncomand = ["x"]\n',
     ["agents.developer.command is required"]),
    ("misspelled agent key", {}, '[agents.developer]\ncommand = ["x"]\ntimeout = 5\n',
     ["agents.developer.timeout", "did you mean agents.developer.timeout_s?"]),
    ("unknown gate", {}, STAGES + 'gates = ["tests_pased"]\n',
     ["'development'", "tests_pased", "did you mean tests_passed?"]),
    ("rollback to an unknown stage", {}, STAGES + '[[pipeline.stages]]\nname = "review"\n'
     'rollback_to = "developmnt"\n', ["pipeline.stages[1].rollback_to", "developmnt",
                                      "did you mean development?"]),
    ("stage without a name", {}, '[[pipeline.stages]]\nrole = "developer"\n',
     ["pipeline.stages[0].name is required"]),
    ("gates not a list", {}, STAGES + 'gates = "tests_passed"\n',
     ["pipeline.stages[0].gates", "a list of gate names"]),
    ("unknown state key", {}, '[plane.states]\naproved = "Ready"\n',
     ["plane.states.aproved", "did you mean approved?"]),
    ("writeback of an unknown stage", {}, '[plane.writeback]\nreveiw = "in_review"\n',
     ["plane.writeback.reveiw", "did you mean review?"]),
    ("writeback to an unknown state", {}, '[plane.writeback]\nreview = "reviewing"\n',
     ["plane.writeback"]),
    ("plane.repos names an unknown repo", {}, '[repos]\napi = "https://git.example.com/a.git"'
     '\n[plane.repos]\nWEB = "apii"\n', ["plane.repos.WEB", "apii", "did you mean api?"]),
    ("plane.repos names an unfollowed project", {"ORCH_PLANE_PROJECTS": "WEB"},
     '[plane.repos]\nWBE = "web"\n', ["plane.repos.WBE", "did you mean WEB?"]),
    ("not TOML", {}, "[pipeline\n", ["ORCH_CONFIG"]),
    ("missing file", {"ORCH_CONFIG": "/nonexistent/orch.toml"}, None,
     ["ORCH_CONFIG", "no such file"]),
    ("Plane URL without token", {"ORCH_PLANE_API_URL": "https://plane.example.com"}, None,
     ["ORCH_PLANE_API_TOKEN is required with ORCH_PLANE_API_URL"]),
    ("Plane URL and token without slug", {"ORCH_PLANE_API_URL": "https://plane.example.com",
                                          "ORCH_PLANE_API_TOKEN": "plane-key"}, None,
     ["ORCH_PLANE_WORKSPACE_SLUG is required"]),
    ("Plane slug alone", {"ORCH_PLANE_WORKSPACE_SLUG": "acme"}, None,
     ["ORCH_PLANE_API_URL is required"]),
    ("Gitea URL without token", {"ORCH_GITEA_URL": "https://git.example.com"}, None,
     ["ORCH_GITEA_TOKEN is required with ORCH_GITEA_URL"]),
    ("group budget above Telegram's", {"ORCH_GROUP_MESSAGES_PER_MINUTE": "500"}, None,
     ["ORCH_GROUP_MESSAGES_PER_MINUTE", "from 1 to 20", "Telegram allows 20"]),
    ("Plane rate above Plane's", {"ORCH_PLANE_RATE_LIMIT_PER_MIN": "1000"}, None,
     ["ORCH_PLANE_RATE_LIMIT_PER_MIN", "from 1 to 300"]),
    ("coverage above 100", {"ORCH_COVERAGE_THRESHOLD": "150"}, None,
     ["ORCH_COVERAGE_THRESHOLD", "from 0 to 100"]),
    ("port out of range", {"ORCH_HTTP_PORT": "99999"}, None, ["ORCH_HTTP_PORT"]),
    ("bad log level", {"ORCH_LOG_LEVEL": "LOUD"}, None, ["ORCH_LOG_LEVEL", "INFO"]),
    ("URL without scheme", {"ORCH_PLANE_API_URL": "plane.example.com"}, None,
     ["ORCH_PLANE_API_URL", "http"]),
    ("chat id zero", {"ORCH_TELEGRAM_CHAT_ID": "0"}, None, ["ORCH_TELEGRAM_CHAT_ID"]),
    ("misspelled setting", {"ORCH_GROUP_MESSAGE_PER_MINUTE": "10"}, None,
     ["ORCH_GROUP_MESSAGE_PER_MINUTE is not a setting",
      "did you mean ORCH_GROUP_MESSAGES_PER_MINUTE?"]),
]


def environment(tmp_path: Path, extra: dict[str, str], toml: str | None) -> dict[str, str]:
    env = {**BASE, "ORCH_DB_PATH": str(tmp_path / "orch.db"), **extra}
    if toml is not None:
        path = tmp_path / "orch.toml"
        path.write_text(toml, encoding="utf-8")
        env["ORCH_CONFIG"] = str(path)
    return env


@pytest.mark.parametrize("command", ["run", "doctor"])
@pytest.mark.parametrize(("extra", "toml", "words"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_a_bad_configuration_exits_2_with_one_line_naming_it(
        command: str, extra: dict[str, str], toml: str | None, words: list[str],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for name in [n for n in os.environ if n.startswith("ORCH_")]:
        monkeypatch.delenv(name)
    for name, value in environment(tmp_path, extra, toml).items():
        monkeypatch.setenv(name, value)

    status = main([command])

    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert status == 2 and out == ""
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0]
    if toml is not None and "TOML" not in lines[0]:
        assert lines[0].startswith(f"orch: {tmp_path / 'orch.toml'}")
    assert "abc-secret-token" not in err
    assert not (tmp_path / "orch.db").exists()


def test_the_real_process_exits_2_without_a_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    env.update(environment(tmp_path, {}, "[pipline]\n"))
    result = subprocess.run([sys.executable, "-m", "app.cli", "run"], env=env, text=True,
                            capture_output=True, timeout=60, check=False)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"orch: {tmp_path / 'orch.toml'}: [pipline] is unknown (did you mean [pipeline]?)"]


def test_a_good_configuration_file_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          ) -> None:
    from core.settings.checks import load

    toml = (STAGES + '[[pipeline.stages]]\nname = "review"\nrole = "reviewer"\n'
            'gates = ["review_approved"]\nrollback_to = "development"\n'
            '[agents.developer]\ncommand = ["dev", "{prompt_file}"]\n'
            '[agents.reviewer]\ncommand = "review {prompt_file}"\n'
            '[repos]\napi = "https://git.example.com/api.git"\n'
            '[plane]\nstart_approved = false\n[plane.repos]\nWEB = "api"\n'
            '[plane.writeback]\nreview = "in_review"\n[plane.states]\napproved = "Ready"\n')
    settings = load(environment(tmp_path, {"ORCH_PLANE_PROJECTS": "WEB"}, toml))

    assert settings.pipeline.order == ("queued", "development", "review", "done")
    assert settings.plane_state_names["approved"] == "Ready"
