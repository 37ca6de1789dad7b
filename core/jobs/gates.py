"""Quality gates: named checks a task must pass to leave a stage.

`QG_CHECKS` maps a gate name (as written in the pipeline configuration) to an async
check that returns (passed, reason). The stage engine runs a stage's gates when the
stage's job has succeeded (or at once, for a stage without a role). A failing gate
rolls the task back to the stage's `rollback_to`, except the gates in `WAITING_GATES`:
they are not failures but something the task waits for (a person's approval).

`human_approval` passes on an approval recorded in the stage (an APPROVED event that
does not move the task, written after the stage was entered): PipelineService.approve
records exactly that outside `queued`, so the task waits with the Approve button on its
card, and an approval pressed before the stage's work is done never skips that work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from core.errors import ConfigError
from core.jobs.agents import APPROVE, REQUEST_CHANGES
from core.pipeline.stages import HUMAN_APPROVAL, Pipeline, StageSpec
from core.pipeline.tasks import ChangeKind, Task, TaskEvent


class GateOutcome(NamedTuple):
    passed: bool
    reason: str


class Waiting(GateOutcome):
    """Not passed, but nothing failed either (CI pending, the forge still checking): the
    task stays and the gate is asked again later, as for WAITING_GATES."""

    __slots__ = ()

    def __new__(cls, reason: str) -> Waiting:
        return super().__new__(cls, False, reason)


@dataclass(frozen=True, slots=True)
class GateContext:
    """What a check may look at: the task, its stage, the job's result, the trail."""

    task: Task
    stage: StageSpec
    result: Mapping[str, Any] = field(default_factory=dict)
    events: Sequence[TaskEvent] = ()
    entry_version: int = 0  # the task's version when it entered this stage
    coverage_threshold: float = 80.0


GateCheck = Callable[[GateContext], Awaitable[GateOutcome]]


async def tests_passed(ctx: GateContext) -> GateOutcome:
    passed = ctx.result.get("tests_passed")
    summary = _summary(ctx)
    if passed is True:
        return GateOutcome(True, "tests passed" + summary)
    if passed is False:
        return GateOutcome(False, "tests failed" + summary)
    return GateOutcome(False, "the tester reported no test result")


async def coverage(ctx: GateContext) -> GateOutcome:
    value = ctx.result.get("coverage")
    if not isinstance(value, int | float) or isinstance(value, bool):
        return GateOutcome(False, "the tester reported no coverage")
    threshold = ctx.coverage_threshold
    if value >= threshold:
        return GateOutcome(True, f"coverage {value:g}% ≥ {threshold:g}%")
    return GateOutcome(False, f"coverage {value:g}% is below {threshold:g}%")


async def review_approved(ctx: GateContext) -> GateOutcome:
    verdict = ctx.result.get("verdict")
    if verdict == APPROVE:
        return GateOutcome(True, "review approved" + _summary(ctx))
    if verdict == REQUEST_CHANGES:
        return GateOutcome(False, "review requested changes" + _summary(ctx))
    return GateOutcome(False, "the reviewer gave no verdict")


async def human_approval(ctx: GateContext) -> GateOutcome:
    for event in ctx.events:
        if _approved_in_stage(event, ctx):
            # the approval's own words name the person ("approved by Lena"); the actor
            # ("telegram:501") only when it came without them
            return GateOutcome(True, event.reason or f"approved by {event.actor}")
    return GateOutcome(False, f"waits for approval to leave {ctx.stage.name}")


def _approved_in_stage(event: TaskEvent, ctx: GateContext) -> bool:
    return (
        event.kind is ChangeKind.APPROVED
        and event.version > ctx.entry_version
        and event.from_stage == event.to_stage == ctx.stage.name
    )


def _summary(ctx: GateContext) -> str:
    text = ctx.result.get("summary")
    return f": {text}" if isinstance(text, str) and text.strip() else ""


QG_CHECKS: dict[str, GateCheck] = {
    "tests_passed": tests_passed,
    "coverage": coverage,
    "review_approved": review_approved,
    HUMAN_APPROVAL: human_approval,
}

# Gates that need a forge (core/jobs/forge_gates.py): known only when one is configured.
FORGE_GATES = frozenset({"merged", "ci_green", "branch_mergeable"})

# Gates whose "not passed" means "wait", never "roll back".
WAITING_GATES = frozenset({HUMAN_APPROVAL})


def validate_gates(pipeline: Pipeline, checks: Mapping[str, GateCheck] = QG_CHECKS) -> None:
    """ConfigError naming the first gate of the pipeline that no check implements."""
    for spec in pipeline.stages:
        for gate in spec.gates:
            if gate not in checks and gate in FORGE_GATES:
                raise ConfigError("ORCH_GITEA_URL", f"stage '{spec.name}' names gate '{gate}', "
                                  "which needs a forge (ORCH_GITEA_URL and ORCH_GITEA_TOKEN)")
            if gate not in checks:
                known = ", ".join(sorted(checks))
                raise ConfigError(
                    "ORCH_CONFIG",
                    f"stage '{spec.name}' names unknown gate '{gate}' (known: {known})",
                )


def gate_order(spec: StageSpec) -> tuple[str, ...]:
    """The stage's gates, the waiting ones last: a person approves work that passed."""
    checked = tuple(g for g in spec.gates if g not in WAITING_GATES)
    return checked + tuple(g for g in spec.gates if g in WAITING_GATES)
