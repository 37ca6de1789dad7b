"""Settings.from_env and the ORCH_CONFIG file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.config import DEFAULT_STATE_NAMES, AgentCommand, Settings
from core.errors import ConfigError
from core.pipeline.stages import DEFAULT_PIPELINE, DONE, QUEUED
from core.settings.checks import load
from core.settings.show import listing

TOKEN = "123456:AAH-very-secret-token"
REQUIRED = {"ORCH_TELEGRAM_TOKEN": TOKEN, "ORCH_TELEGRAM_CHAT_ID": "-1001"}

CONFIG = """
[[pipeline.stages]]
name = "build"
role = "developer"

[[pipeline.stages]]
name = "check"
role = "tester"
gates = ["tests_passed"]
rollback_to = "build"

[agents.developer]
command = ["dev-agent", "--task", "{key}"]
timeout_s = 60

[agents.tester]
command = "run-tests --fast"

[plane.states]
in_progress = "Doing"
"""


def from_env(**overrides: str) -> Settings:
    return Settings.from_env({**REQUIRED, **overrides})


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "orch.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_from_env_with_only_the_required_settings_uses_defaults() -> None:
    settings = from_env()

    assert (settings.telegram_token, settings.telegram_chat_id) == (TOKEN, -1001)
    assert settings == Settings(telegram_token=TOKEN, telegram_chat_id=-1001)
    assert settings.pipeline == DEFAULT_PIPELINE
    assert (settings.http_port, settings.task_key_prefix, settings.approvers) == (
        None,
        "ORCH",
        frozenset(),
    )


def test_from_env_reads_typed_values() -> None:
    settings = from_env(
        ORCH_APPROVERS="1, 2",
        ORCH_HTTP_PORT="8080",
        ORCH_TASK_KEY_PREFIX="web",
        ORCH_TASK_DEPS_ENABLED="no",
        ORCH_PLANE_PROJECTS="WEB,api-2",
        ORCH_RECONCILE_INTERVAL_S="2.5",
    )

    assert settings.approvers == {1, 2}
    assert (settings.http_port, settings.task_key_prefix) == (8080, "WEB")
    assert settings.task_deps_enabled is False
    assert settings.plane_projects == ("WEB", "api-2")
    assert settings.reconcile_interval_s == 2.5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ORCH_TELEGRAM_CHAT_ID", "abc"),
        ("ORCH_HTTP_PORT", "99999"),
        ("ORCH_HTTP_PORT", "0"),
        ("ORCH_APPROVERS", "1,x"),
        ("ORCH_TASK_DEPS_ENABLED", "maybe"),
        ("ORCH_TASK_KEY_PREFIX", "1AB"),
        ("ORCH_TASK_KEY_PREFIX", "OR-CH"),
        ("ORCH_MAX_CONCURRENCY", "0"),
        ("ORCH_PER_REPO_CONCURRENCY", "-1"),
        ("ORCH_RECONCILE_INTERVAL_S", "-5"),
        ("ORCH_RUN_STALE_AFTER_S", "nan"),
        ("ORCH_PLANE_PROJECTS", "WEB,a b"),
        ("ORCH_LESSONS_ENABLED", "2"),
    ],
)
def test_a_malformed_setting_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_env(**{name: value})

    assert caught.value.setting == name
    assert str(caught.value).startswith(f"{name}:")


@pytest.mark.parametrize("missing", ["ORCH_TELEGRAM_TOKEN", "ORCH_TELEGRAM_CHAT_ID"])
def test_a_missing_required_setting_is_named(missing: str) -> None:
    environ = {k: v for k, v in REQUIRED.items() if k != missing}

    with pytest.raises(ConfigError) as caught:
        Settings.from_env(environ)

    assert caught.value.setting == missing


def test_a_blank_token_counts_as_missing() -> None:
    with pytest.raises(ConfigError, match="ORCH_TELEGRAM_TOKEN"):
        from_env(ORCH_TELEGRAM_TOKEN="   ")


def test_telegram_is_optional_when_not_required() -> None:
    settings = Settings.from_env({}, require_telegram=False)

    assert (settings.telegram_token, settings.telegram_chat_id) == ("", 0)


# --- ORCH_CONFIG --------------------------------------------------------------------


def test_config_file_sets_pipeline_agents_and_state_names(tmp_path: Path) -> None:
    settings = from_env(ORCH_CONFIG=write(tmp_path, CONFIG))

    assert settings.pipeline.order == (QUEUED, "build", "check", DONE)
    assert settings.pipeline.spec("check").rollback_to == "build"
    assert settings.agents == {
        "developer": AgentCommand(("dev-agent", "--task", "{key}"), 60.0),
        "tester": AgentCommand(("run-tests", "--fast")),
    }
    assert settings.plane_state_names == {**DEFAULT_STATE_NAMES, "in_progress": "Doing"}


def test_an_empty_config_file_changes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    assert from_env(ORCH_CONFIG=path) == replace(from_env(), config_path=path)


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file") as caught:
        from_env(ORCH_CONFIG=str(tmp_path / "absent.toml"))

    assert caught.value.setting == "ORCH_CONFIG"


@pytest.mark.parametrize(
    "text",
    [
        "[pipeline\nstages = 1",
        "pipeline = 3",
        "[pipeline]\nstages = []",
        '[[pipeline.stages]]\nname = "two words"',
        '[[pipeline.stages]]\nname = "blocked"',
        '[[pipeline.stages]]\nname = "a"\nrollback_to = "b"\n[[pipeline.stages]]\nname = "b"',
        '[[pipeline.stages]]\nname = "a"\n[[pipeline.stages]]\nname = "done"\nrollback_to = "a"',
        '[[pipeline.stages]]\nname = "a"\ngates = "ci_green"',
        "[agents.developer]\ncommand = []",
        '[agents.developer]\ncommand = ["x"]\ntimeout_s = 0',
        "agents = 1",
        "[plane]\nstates = 1",
    ],
)
def test_a_malformed_config_file_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        from_env(ORCH_CONFIG=write(tmp_path, text))

    assert caught.value.setting == "ORCH_CONFIG"


def test_a_config_file_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "orch.toml"
    path.write_bytes(b"\xff\xfe\x00binary")

    with pytest.raises(ConfigError) as caught:
        from_env(ORCH_CONFIG=str(path))

    assert caught.value.setting == "ORCH_CONFIG"


# --- masking ------------------------------------------------------------------------


def test_masked_never_shows_a_secret() -> None:
    secrets = {
        "ORCH_PLANE_API_TOKEN": "plane-secret-1",
        "ORCH_PLANE_WEBHOOK_SECRET": "hook-secret-2",
        "ORCH_GITEA_TOKEN": "gitea-secret-3",
        "ORCH_API_TOKEN": "api-secret-4",
    }
    shown = dict(row for _, rows in listing(from_env(**secrets)) for row in rows)
    text = "\n".join(shown.values())

    for secret in (TOKEN, *secrets.values()):
        assert secret not in text
    assert shown["ORCH_TELEGRAM_TOKEN"] == shown["ORCH_GITEA_TOKEN"] == "set (hidden)"
    unset = dict(row for _, rows in listing(from_env()) for row in rows)
    assert unset["ORCH_GITEA_TOKEN"] == "not set"



def test_a_telegram_webhook_needs_the_http_server() -> None:
    hook = {"ORCH_TELEGRAM_WEBHOOK_URL": "https://orch.example.com/hooks/telegram"}
    with pytest.raises(ConfigError) as caught:
        load({**REQUIRED, **hook})
    assert caught.value.setting == "ORCH_HTTP_PORT" and "WEBHOOK_URL" in str(caught.value)

    settings = load({**REQUIRED, **hook, "ORCH_HTTP_PORT": "8080"})
    assert settings.telegram_webhook_url == hook["ORCH_TELEGRAM_WEBHOOK_URL"]
