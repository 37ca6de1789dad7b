"""The merge gate's settings: read from the environment and ORCH_CONFIG, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Settings
from core.errors import ConfigError
from core.jobs.gates import validate_gates
from core.pipeline.stages import DONE, QUEUED, Pipeline, StageSpec
from core.settings.checks import validate
from core.settings.show import listing, secrets_of


def test_the_forge_settings_are_read_and_the_secret_masked() -> None:
    settings = Settings.from_env({
        "ORCH_GITEA_URL": "https://git.example.com", "ORCH_GITEA_TOKEN": "tok",
        "ORCH_GITEA_WEBHOOK_SECRET": "whs", "ORCH_PREMERGE_REBASE_ALWAYS": "false",
        "ORCH_MERGE_STATUS_CONTEXT": "ci/orch", "ORCH_MERGE_LEASE_TTL_S": "600",
    }, require_telegram=False)
    assert (settings.gitea_url, settings.premerge_rebase_always) == (
        "https://git.example.com", False)
    assert (settings.merge_status_context, settings.merge_lease_ttl_s) == ("ci/orch", 600)
    assert {"tok", "whs"} <= set(secrets_of(settings))
    shown = "\n".join(f"{name} {value}" for _, rows in listing(settings) for name, value in rows)
    assert "tok" not in shown.split() and "whs" not in shown.split()


def test_forge_repos_come_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "orch.toml"
    path.write_text('[forge.repos]\napi = "team/api"\n', encoding="utf-8")
    assert Settings().with_file(path).forge_repos == {"api": "team/api"}
    path.write_text('[forge.repos]\napi = "api"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="owner/name"):
        Settings().with_file(path)


def test_a_forge_gate_without_a_forge_says_what_is_missing() -> None:
    pipeline = Pipeline((StageSpec(QUEUED), StageSpec("merge", gates=("ci_green",)),
                         StageSpec(DONE)))
    with pytest.raises(ConfigError, match="needs a forge"):
        validate_gates(pipeline)


def test_start_up_refuses_a_forge_gate_without_a_forge_and_accepts_it_with_one() -> None:
    pipeline = Pipeline((StageSpec(QUEUED), StageSpec("merge", gates=("merged",)),
                         StageSpec(DONE)))
    with pytest.raises(ConfigError, match="needs a forge"):
        validate(Settings(pipeline=pipeline))
    validate(Settings(pipeline=pipeline, gitea_url="https://git.example.com", gitea_token="t"))
