"""The settings that keep the process safe: where HTTP listens and how much it takes,
how big a result file may be, and which of orch's environment variables agents see."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Settings
from core.errors import ConfigError

REQUIRED = {"ORCH_TELEGRAM_TOKEN": "1:x", "ORCH_TELEGRAM_CHAT_ID": "-1"}


def test_defaults_listen_on_loopback_and_cap_bodies_and_results_at_1_mb() -> None:
    settings = Settings.from_env(REQUIRED)

    assert settings.http_host == "127.0.0.1"
    assert settings.http_max_body_bytes == settings.agent_result_max_bytes == 1_000_000
    assert settings.agent_env == ()


def test_each_is_read_from_the_environment() -> None:
    settings = Settings.from_env({**REQUIRED, "ORCH_HTTP_HOST": "0.0.0.0",
                                  "ORCH_HTTP_MAX_BODY_BYTES": "2048",
                                  "ORCH_AGENT_RESULT_MAX_BYTES": "4096",
                                  "ORCH_AGENT_ENV": "ANTHROPIC_API_KEY, GIT_SSH_COMMAND"})

    assert (settings.http_host, settings.http_max_body_bytes) == ("0.0.0.0", 2048)
    assert settings.agent_result_max_bytes == 4096
    assert settings.agent_env == ("ANTHROPIC_API_KEY", "GIT_SSH_COMMAND")


@pytest.mark.parametrize(("name", "value"), [
    ("ORCH_HTTP_MAX_BODY_BYTES", "0"),
    ("ORCH_AGENT_RESULT_MAX_BYTES", "1MB"),
    ("ORCH_AGENT_ENV", "NOT A NAME"),
])
def test_a_malformed_value_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**REQUIRED, name: value})
    assert refused.value.setting == name


def test_an_agent_may_be_given_more_names_in_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "orch.toml"
    config.write_text('[agents.developer]\ncommand = ["claude"]\nenv = ["ANTHROPIC_API_KEY"]\n')

    settings = Settings().with_file(config)

    assert settings.agents["developer"].env == ("ANTHROPIC_API_KEY",)
    config.write_text('[agents.developer]\ncommand = ["claude"]\nenv = "ANTHROPIC_API_KEY"\n')
    with pytest.raises(ConfigError, match=r"agents.developer.env"):
        Settings().with_file(config)
