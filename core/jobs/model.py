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
from collections.abc import Mapping
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
    """What a claim must respect: global and per-repo running counts, the deps gate."""

    max_running: int
    per_repo: int | None = None
    deps_enabled: bool = True


@dataclass(frozen=True, slots=True)
class RunEnd:
    """A run's terminal record."""

    succeeded: bool
    exit_code: int | None = None
    duration_s: float | None = None
    error: str | None = None
    log_path: str | None = None
    result: Mapping[str, Any] = field(default_factory=dict)


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
