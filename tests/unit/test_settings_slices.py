"""Each service's slice of Settings names only Settings fields, with their types, and
from_settings copies them; secrets stay out of a slice's repr."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

import pytest

from core.config import AgentCommand, Settings
from core.integrations.plane.config import PlaneAccess
from core.jobs.config import JobsConfig
from core.lessons.config import LessonsConfig
from core.pipeline.stages import DONE, QUEUED, Pipeline, StageSpec

SLICES: list[Any] = [JobsConfig, LessonsConfig, PlaneAccess]

# every field set away from its default, so a slice that kept a default would show
SETTINGS = Settings(
    pipeline=Pipeline((StageSpec(QUEUED), StageSpec("build", "developer"), StageSpec(DONE))),
    agents={"developer": AgentCommand(("dev",), stall_timeout_s=9.0)},
    approvers=frozenset({7}), max_concurrency=5, per_repo_concurrency=2,
    stage_concurrency={"review": 1}, role_concurrency={"developer": 3},
    task_deps_enabled=False, transient_max_attempts=6, run_stale_after_s=77.0,
    coverage_threshold=91.5, repos_dir="/srv/repos", lessons_enabled=False,
    lessons_dedup_window_s=12.0, plane_api_url="https://plane.test",
    plane_api_token="plane-secret-token", plane_workspace_slug="acme",
    plane_rate_limit_per_min=33,
)


@pytest.mark.parametrize("kind", SLICES, ids=lambda kind: kind.__name__)
def test_a_slice_holds_settings_fields_of_the_same_type(kind: Any) -> None:
    settings_types = {item.name: item.type for item in fields(Settings)}
    assert is_dataclass(kind) and kind.__dataclass_params__.frozen
    for item in fields(kind):
        assert item.name in settings_types, f"{kind.__name__}.{item.name} is not a setting"
        assert item.type == settings_types[item.name], item.name


@pytest.mark.parametrize("kind", SLICES, ids=lambda kind: kind.__name__)
def test_from_settings_copies_every_field(kind: Any) -> None:
    sliced = kind.from_settings(SETTINGS)
    for item in fields(kind):
        assert getattr(sliced, item.name) == getattr(SETTINGS, item.name), item.name


def test_the_slices_do_not_copy_a_default_by_mistake() -> None:
    # the fixture above differs from the defaults in every field the slices read
    defaults = Settings()
    for kind in SLICES:
        for item in fields(kind):
            assert getattr(SETTINGS, item.name) != getattr(defaults, item.name), item.name


def test_the_plane_key_stays_out_of_the_slice_repr() -> None:
    assert "plane-secret-token" not in repr(PlaneAccess.from_settings(SETTINGS))

