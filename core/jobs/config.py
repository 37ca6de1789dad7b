"""What the job loop, the stage engine and the jobs' /queue view read of Settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.config import AgentCommand, Settings
from core.pipeline.stages import Pipeline
from core.settings.slice import slice_of


@dataclass(frozen=True)
class JobsConfig:
    """Frozen like Settings; a config reload hands the loop and the engine a new one."""

    pipeline: Pipeline
    agents: Mapping[str, AgentCommand]
    approvers: frozenset[int]
    max_concurrency: int
    per_repo_concurrency: int | None
    stage_concurrency: Mapping[str, int]
    role_concurrency: Mapping[str, int]
    task_deps_enabled: bool
    transient_max_attempts: int
    run_stale_after_s: float
    coverage_threshold: float
    repos_dir: str  # the runs' logs go to <repos_dir>/_logs

    @classmethod
    def from_settings(cls, settings: Settings) -> JobsConfig:
        return slice_of(cls, settings)
