"""ORCH_CONFIG keys of issue 11: per-role stall timeouts, per-stage and per-role limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Settings
from core.errors import ConfigError
from core.jobs.model import ClaimLimits

CONFIG = """
[agents.developer]
command = ["dev"]
stall_timeout_s = 0

[agents.reviewer]
command = ["rev"]

[concurrency.stages]
review = 1

[concurrency.roles]
developer = 2
tester = 0
"""


def test_stall_timeouts_and_limits_are_read(tmp_path: Path) -> None:
    path = tmp_path / "orch.toml"
    path.write_text(CONFIG, encoding="utf-8")

    settings = Settings().with_file(path)

    assert settings.agents["developer"].stall_timeout_s == 0
    assert settings.agents["reviewer"].stall_timeout_s == 300
    assert settings.stage_concurrency == {"review": 1}
    assert settings.role_concurrency == {"developer": 2, "tester": 0}


@pytest.mark.parametrize("text", [
    '[concurrency.stages]\nreview = -1\n',
    '[concurrency.roles]\ndeveloper = "two"\n',
    '[agents.developer]\ncommand = ["dev"]\nstall_timeout_s = -5\n',
    '[concurrency]\nrepos = {}\n',
])
def test_bad_limits_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "orch.toml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError):
        Settings().with_file(path)


def test_full_names_what_is_at_its_limit() -> None:
    limits = ClaimLimits(10, per_repo=2, per_stage={"review": 1, "deploy": 0},
                         per_role={"developer": 2})
    running = [("api", "review", "reviewer"), ("api", "development", "developer")]

    assert limits.full(running) == ({"api"}, {"review", "deploy"}, set())
    assert ClaimLimits(10).partitioned is False and limits.partitioned is True
