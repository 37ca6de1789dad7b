"""Jobs and runs: the unit of agent work for a task at a stage, and each attempt at it.

A job is `queued → running → succeeded | failed | cancelled`; a transient failure puts
it back to `queued` with a later `not_before`. While a job is `running` it has exactly
one open run (`pending → running`), created in the same transaction as the claim, so a
process that dies mid-run always leaves an open run behind for the sweep to find. A
run is append-only once terminal; every attempt writes a new one.

The stores are split by who needs them: the stage engine uses `JobStore`, the job loop
`RunStore`, `/queue` `JobStats`. `storage/jobs.py` implements all three.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.errors import JobConflict as JobConflict  # raised by JobStore.enqueue
from core.pipeline.stages import Stage


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


OPEN_JOB = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


class Failure(StrEnum):
    """Why a failed job failed; the stage engine reacts differently to each."""

    PERMANENT = "permanent"  # the agent failed: roll back or block, as the stage says
    RETRIES_SPENT = "retries_spent"  # transient failures used up the budget: block
    UNRUNNABLE = "unrunnable"  # nothing can run it (no agent for the role): block


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"  # stopped by orch: its task left the stage


OPEN_RUN = frozenset({RunStatus.PENDING, RunStatus.RUNNING})
RESTARTED = "orch restarted during the run"


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a job's agent is told beyond the task: why it came back, what to learn from."""

    rollback_reason: str | None = None
    lessons: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps({"rollback_reason": self.rollback_reason, "lessons": self.lessons})

    @classmethod
    def from_json(cls, text: str | None) -> JobContext:
        data = json.loads(text) if text else {}
        return cls(data.get("rollback_reason"), tuple(data.get("lessons") or ()))


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    task_id: int
    stage: Stage
    role: str
    repo: str
    status: JobStatus
    attempts: int
    transient_attempts: int
    not_before: datetime
    task_version: int
    enqueued_at: datetime
    updated_at: datetime
    context: JobContext = JobContext()
    last_error: str | None = None
    failure: Failure | None = None
    owner: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_JOB


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    job_id: int
    task_id: int
    stage: Stage
    attempt: int
    status: RunStatus
    owner: str
    started_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    exit_code: int | None = None
    duration_s: float | None = None
    error: str | None = None
    log_path: str | None = None
    result: Mapping[str, Any] = field(default_factory=dict)
    role: str | None = None
    effort: Effort | None = None


@dataclass(frozen=True, slots=True)
class JobDraft:
    task_id: int
    stage: Stage
    role: str
    repo: str
    task_version: int
    not_before: datetime
    context: JobContext = JobContext()


@dataclass(frozen=True, slots=True)
class Claim:
    """A claimed job and the pending run the claim opened for it."""

    job: Job
    run: Run


@dataclass(frozen=True, slots=True)
class ClaimLimits:
    """What a claim must respect: the running counts (global, per repo, per stage, per
    role) and the dependency gate."""

    max_running: int
    per_repo: int | None = None
    deps_enabled: bool = True
    per_stage: Mapping[str, int] = field(default_factory=dict)
    per_role: Mapping[str, int] = field(default_factory=dict)

    @property
    def partitioned(self) -> bool:
        """True when some limit below the global one applies."""
        return self.per_repo is not None or bool(self.per_stage) or bool(self.per_role)

    def full(self, running: Sequence[tuple[str, str, str]]) -> tuple[set[str], set[str], set[str]]:
        """The repos, stages and roles at their limit, given the running (repo, stage,
        role) triples."""
        repos: dict[str, int] = {}
        stages: dict[str, int] = {}
        roles: dict[str, int] = {}
        for repo, stage, role in running:
            repos[repo] = repos.get(repo, 0) + 1
            stages[stage] = stages.get(stage, 0) + 1
            roles[role] = roles.get(role, 0) + 1
        per_repo = self.per_repo
        return (
            {r for r, n in repos.items() if per_repo is not None and n >= per_repo},
            {s for s, most in self.per_stage.items() if stages.get(s, 0) >= most},
            {r for r, most in self.per_role.items() if roles.get(r, 0) >= most},
        )


@dataclass(frozen=True, slots=True)
class Effort:
    """What a run cost: CPU time as orch saw it, and what the agent reported in its
    result (tokens_in, tokens_out, cost, model)."""

    cpu_s: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost: float | None = None
    model: str | None = None

    @classmethod
    def reported(cls, result: Mapping[str, Any], cpu_s: float | None = None) -> Effort:
        """From a result JSON; values of the wrong type or sign are ignored."""
        def count(key: str) -> int | None:
            value = result.get(key)
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            return value if ok else None

        cost = result.get("cost")
        money = (float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool)
                 and 0 <= cost < 1e9 else None)
        model = result.get("model")
        return cls(cpu_s, count("tokens_in"), count("tokens_out"), money,
                   model[:100] if isinstance(model, str) and model else None)


@dataclass(frozen=True, slots=True)
class RunEnd:
    """A run's terminal record."""

    succeeded: bool
    exit_code: int | None = None
    duration_s: float | None = None
    error: str | None = None
    log_path: str | None = None
    result: Mapping[str, Any] = field(default_factory=dict)
    cancelled: bool = False
    effort: Effort = Effort()

    @property
    def status(self) -> RunStatus:
        if self.cancelled:
            return RunStatus.CANCELLED
        return RunStatus.SUCCEEDED if self.succeeded else RunStatus.FAILED


@dataclass(frozen=True, slots=True)
class JobUpdate:
    """What becomes of a job when its run ends: terminal, or queued again for later."""

    status: JobStatus
    not_before: datetime | None = None
    transient_attempts: int | None = None
    last_error: str | None = None
    failure: Failure | None = None


@dataclass(frozen=True, slots=True)
class Swept:
    run_id: int
    job_id: int
    task_id: int
    requeued: bool


@dataclass(frozen=True, slots=True)
class QueuedJob:
    """A queued job as /queue sees it, in claim order."""

    task_id: int
    key: str
    stage: Stage
    role: str
    not_before: datetime
    transient_attempts: int
    waits_for_deps: bool


@dataclass(frozen=True, slots=True)
class RunningJob:
    task_id: int
    key: str
    stage: Stage
    role: str
    attempt: int
    started_at: datetime


@dataclass(frozen=True, slots=True)
class JobsOverview:
    queued: tuple[QueuedJob, ...]
    running: tuple[RunningJob, ...]


@dataclass(frozen=True, slots=True)
class JobCounts:
    """Open jobs counted for /queue; they hold until `next_due` (a backoff ends)."""

    running: int = 0
    queued: int = 0
    waiting_deps: int = 0
    backoff: int = 0
    next_due: datetime | None = None


@dataclass(frozen=True, slots=True)
class LinePlace:
    """Where a task's open job stands: running, waiting, or its place in the claim line."""

    task_id: int
    running: bool
    not_before: datetime
    transient_attempts: int
    waits_for_deps: bool
    position: int | None  # in claim order among jobs claimable now; None far down the line


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter for transient failures; pure apart from `rng`.

    The n-th transient failure waits between half and all of `base_s * 2**(n-1)`
    (capped at `cap_s`): "equal jitter", so retries of many jobs spread out but none
    comes back at once.
    """

    base_s: float = 30.0
    cap_s: float = 900.0
    rng: random.Random = field(default_factory=random.Random)

    def decide(self, transient_attempts: int, max_attempts: int) -> float | None:
        """Seconds to wait before the next try, or None when the budget is spent.

        `transient_attempts` counts the tries that failed transiently so far, this one
        included; `max_attempts` is the number of tries allowed in all.
        """
        if transient_attempts >= max_attempts:
            return None
        ceiling = min(self.cap_s, self.base_s * 2.0 ** max(0, transient_attempts - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)
