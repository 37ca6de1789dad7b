"""Agent work: what a run is asked to do, what it reports back, and the port that runs it.

An agent is any command (an AI coding agent CLI or a plain script) run for one job of
one task in the task's worktree. It reads its prompt from a file, works, and may write a
structured result as JSON to the file named by `ORCH_RESULT_FILE`:

    {"verdict": "APPROVE" | "REQUEST_CHANGES", "summary": "...",
     "tests_passed": true, "coverage": 87.5, ...anything else}

Every key is optional. Its exit code says how the run went: 0 succeeded, the command's
transient exit code (75 by default) or a timeout is transient (worth a retry), anything
else failed. Nothing here does IO; the subprocess runner lives in core/integrations.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.jobs.watch import RunControl

RESULT_FILE_ENV = "ORCH_RESULT_FILE"
HEARTBEAT_FILE_ENV = "ORCH_HEARTBEAT_FILE"
APPROVE = "APPROVE"
REQUEST_CHANGES = "REQUEST_CHANGES"
VERDICTS = frozenset({APPROVE, REQUEST_CHANGES})

# A prompt is read by a model with a finite context; the journal can be long.
MAX_LESSONS = 10
MAX_LESSON_CHARS = 300


class RunOutcome(StrEnum):
    """How one run of an agent ended."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TRANSIENT = "transient"  # timed out or asked for a retry: try again within the budget
    CANCELLED = "cancelled"  # orch stopped it: its task left the stage


@dataclass(frozen=True, slots=True)
class AgentRequest:
    """Everything one run needs: who works on what, where, and with which prompt."""

    task_key: str
    title: str
    description: str
    repo: str
    branch: str
    stage: str
    role: str
    attempt: int
    run_id: int
    worktree: Path
    log_path: Path
    prompt: str
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # shared with orch while the run lasts: activity seen, and a request to stop
    control: RunControl | None = None


@dataclass(frozen=True, slots=True)
class AgentResult:
    """What a run came to. `error` explains a failure or a malformed result file."""

    outcome: RunOutcome
    exit_code: int | None
    duration_s: float
    error: str | None
    log_path: Path
    structured: Mapping[str, Any] = field(default_factory=dict)
    timed_out: bool = False
    cpu_s: float | None = None  # the agent's processes, as last sampled

    @property
    def verdict(self) -> str | None:
        return self.structured.get("verdict")

    @property
    def summary(self) -> str | None:
        return self.structured.get("summary")

    @property
    def tests_passed(self) -> bool | None:
        return self.structured.get("tests_passed")

    @property
    def coverage(self) -> float | None:
        value = self.structured.get("coverage")
        return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class AgentProcess:
    """The process group a run's agent lives in, as recorded for a later orch to kill.

    `started` is the group leader's start time (None where the system cannot tell); it
    tells the group apart from an unrelated process that was given the same pid later.
    """

    group: int
    started: int | None


def outcome_for(exit_code: int | None, *, timed_out: bool, transient_exit_code: int) -> RunOutcome:
    """The outcome an exit code (or a timeout) means."""
    if timed_out or exit_code == transient_exit_code:
        return RunOutcome.TRANSIENT
    return RunOutcome.SUCCEEDED if exit_code == 0 else RunOutcome.FAILED


def parse_structured_result(text: str) -> tuple[dict[str, Any], str | None]:
    """Read a result file's text into (structured, note); a bad file gives ({}, why).

    Known keys with a wrong type or range are dropped (and named in the note) so that
    gates can trust the types of what is left; unknown keys are kept as they are.
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return {}, f"result file: malformed JSON ({_short(str(exc))})"
    if not isinstance(data, dict):
        return {}, f"result file: expected a JSON object, got {type(data).__name__}"
    dropped = [key for key, valid in _CHECKS.items() if key in data and not valid(data[key])]
    structured = {key: value for key, value in data.items() if key not in dropped}
    note = f"result file: ignored invalid {', '.join(dropped)}" if dropped else None
    return structured, note


def _is_coverage(value: Any) -> bool:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return is_number and math.isfinite(value) and 0 <= value <= 100


_CHECKS: Mapping[str, Callable[[Any], bool]] = {
    "verdict": lambda value: value in VERDICTS,
    "summary": lambda value: isinstance(value, str),
    "tests_passed": lambda value: isinstance(value, bool),
    "coverage": _is_coverage,
}


def build_prompt(
    *,
    task_key: str,
    title: str,
    description: str,
    stage: str,
    role: str,
    attempt: int,
    repo: str = "",
    branch: str = "",
    failure_reason: str | None = None,
    lessons: Iterable[str] = (),
) -> str:
    """The prompt text for one run: the task, the job, and what to learn from before.

    The "previous failure" section appears only after a rollback (a reason is given),
    the "lessons" section only when the journal has something to say.
    """
    sections = [
        _task_section(task_key, title, description, repo, branch),
        _job_section(stage, role, attempt),
    ]
    if failure_reason and failure_reason.strip():
        sections.append(
            f"## Previous failure\n\nThe last attempt was sent back because:\n"
            f"{failure_reason.strip()}"
        )
    lesson_lines = _lesson_lines(lessons)
    if lesson_lines:
        sections.append("## Lessons from this team's journal\n\n" + "\n".join(lesson_lines))
    sections.append(_reporting_section(role))
    return "\n\n".join(sections) + "\n"


def _task_section(task_key: str, title: str, description: str, repo: str, branch: str) -> str:
    named = (("repo", repo), ("branch", branch))
    where = " · ".join(f"{label} {value}" for label, value in named if value)
    lines = [f"# {task_key}: {title}", ""]
    if where:
        lines += [where, ""]
    lines.append(description.strip() or "(no description)")
    return "\n".join(lines)


def _job_section(stage: str, role: str, attempt: int) -> str:
    return (
        f"## Your job\n\nYou are the {role} for the {stage} stage "
        f"(attempt {attempt}). Work in the current directory, which is this task's "
        "git worktree on its own branch."
    )


def _lesson_lines(lessons: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for lesson in lessons:
        text = " ".join(lesson.split())[:MAX_LESSON_CHARS]
        if text and text not in seen:
            seen.append(text)
    return [f"- {text}" for text in seen[:MAX_LESSONS]]


_ROLE_KEYS: Mapping[str, str] = {
    "reviewer": '"verdict": "APPROVE" or "REQUEST_CHANGES"',
    "tester": '"tests_passed": true/false, "coverage": a percentage 0-100',
}


def _reporting_section(role: str) -> str:
    keys = ", ".join(k for k in (_ROLE_KEYS.get(role), '"summary": one short paragraph') if k)
    return (
        f"## Reporting\n\nWhen done, write a JSON object to the file named by the "
        f"{RESULT_FILE_ENV} environment variable with {keys}. Exit 0 when the job is "
        "done, 75 when it could not be done for a passing reason (worth a retry), "
        "anything else when it failed."
    )


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
