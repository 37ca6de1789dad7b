"""ORCH_CONFIG reloaded while orch runs: a valid edit changes the next claim, an invalid
one is refused with one alert and one log line and the last good configuration stays."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.config import Settings
from core.jobs.model import JobStatus
from core.settings.checks import validate
from core.settings.reload import ConfigReloader
from tests.integration.test_job_loop_real import Orch, start_orch

AGENTS = f"""
[agents.developer]
command = ["{sys.executable}", "-c", "pass"]
[agents.reviewer]
command = ["{sys.executable}", "-c", "pass"]
[agents.tester]
command = ["{sys.executable}", "-c", "pass"]
[agents.deployer]
command = ["{sys.executable}", "-c", "pass"]
"""


def write(path: Path, developers: int, extra: str = "") -> None:
    path.write_text(f"{AGENTS}\n[concurrency.roles]\ndeveloper = {developers}\n{extra}",
                    encoding="utf-8")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "orch.toml"
    write(path, developers=0)
    return path


@pytest.fixture
async def orch(tmp_path: Path, config: Path, clock: ManualClock) -> AsyncIterator[Orch]:
    settings = Settings(repos_dir=str(tmp_path / "repos")).with_file(config)
    orch = await start_orch(tmp_path / "orch.db", settings, clock, tmp_path)
    await orch.loop.start()
    yield orch
    await orch.loop.stop()
    await orch.db.close()


def reloader_for(orch: Orch, config: Path, alerts: list[str]) -> ConfigReloader:
    settings = Settings(repos_dir="unused").with_file(config)
    return ConfigReloader(settings, apply=orch.loop.reconfigure, validate=validate,
                          alert=alerts.append)


async def test_a_valid_edit_changes_the_next_claim(
        orch: Orch, config: Path, clock: ManualClock) -> None:
    alerts: list[str] = []
    reloader = reloader_for(orch, config, alerts)
    task = await orch.approved("Wait for a developer slot")

    assert (await orch.loop.tick()).claimed == 0  # no developer may run
    write(config, developers=1)
    assert reloader.check() == "applied"
    assert (await orch.loop.tick()).claimed == 1
    await orch.loop.wait_idle()

    job = await orch.jobs.latest_job(task.id, "development")
    assert job is not None and job.status is JobStatus.SUCCEEDED
    assert alerts == [] and reloader.check() == "unchanged"


@pytest.mark.parametrize("bad", [
    "[concurrency.roles\n",                                   # not TOML
    "[pipeline]\nstages = [{ name = \"development\", role = \"developer\", "
    "gates = [\"tests_pased\"] }]\n",                          # an unknown gate
    "[repos]\napi = \"https://git.example.com/team/api.git\"\n",  # needs a restart
])
async def test_an_invalid_edit_is_refused_once_and_the_last_good_one_kept(
        orch: Orch, config: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture,
        bad: str) -> None:
    alerts: list[str] = []
    reloader = reloader_for(orch, config, alerts)
    write(config, developers=1, extra=bad)

    with caplog.at_level(logging.WARNING, logger="core.settings.reload"):
        assert reloader.check() == "refused"
        assert reloader.check() == "unchanged"  # the same bad file: no second alert

    assert len(alerts) == 1 and "refused" in alerts[0], alerts
    assert len([r for r in caplog.records if r.name == "core.settings.reload"]) == 1
    assert reloader.settings.role_concurrency == {"developer": 0}  # the last good one
    await orch.approved("Still no developer")
    assert (await orch.loop.tick()).claimed == 0
