"""Stages, the pipeline they form, and every move the pipeline allows.

Stages come from configuration, so a stage is a plain name. Four names are fixed:
`queued` opens every pipeline, `done` closes it, and `blocked` and `cancelled` sit
beside it. `STAGE_TRANSITIONS` is derived from the pipeline, never written by hand.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

Stage = str

QUEUED: Stage = "queued"
DONE: Stage = "done"
BLOCKED: Stage = "blocked"
CANCELLED: Stage = "cancelled"
RESERVED = frozenset({QUEUED, DONE, BLOCKED, CANCELLED})
TERMINAL = frozenset({DONE, CANCELLED})

HUMAN_APPROVAL = "human_approval"


class Move(StrEnum):
    """The kinds of move a task can make; each transition has exactly one."""

    ADVANCE = "advance"  # to the next stage in order (Approve on a stage that needs it)
    ROLLBACK = "rollback"  # a gate failed: back to the stage's configured rollback target
    BLOCK = "block"
    UNBLOCK = "unblock"  # back to the stage the task was blocked in, nowhere else
    CANCEL = "cancel"  # terminal
    CLOSE = "close"  # the tracker closed the item: straight to done


@dataclass(frozen=True, slots=True)
class StageSpec:
    """One step: who works in it, what must hold to leave it, where a failure goes."""

    name: Stage
    role: str | None = None
    gates: tuple[str, ...] = ()
    rollback_to: Stage | None = None

    @property
    def needs_approval(self) -> bool:
        return self.name == QUEUED or HUMAN_APPROVAL in self.gates


@dataclass(frozen=True, slots=True)
class Transition:
    source: Stage
    target: Stage
    move: Move


@dataclass(frozen=True)
class Pipeline:
    """The ordered stages from `queued` to `done` and the transitions they imply."""

    stages: tuple[StageSpec, ...]
    transitions: frozenset[Transition] = field(init=False)

    def __post_init__(self) -> None:
        _validate(self.stages)
        object.__setattr__(self, "transitions", frozenset(_derive(self.stages)))

    @property
    def order(self) -> tuple[Stage, ...]:
        return tuple(s.name for s in self.stages)

    @property
    def active(self) -> tuple[Stage, ...]:
        """Stages a task can be in while alive (everything but done)."""
        return self.order[:-1]

    def spec(self, stage: Stage) -> StageSpec:
        for candidate in self.stages:
            if candidate.name == stage:
                return candidate
        raise KeyError(stage)

    def next_stage(self, stage: Stage) -> Stage | None:
        order = self.order
        index = order.index(stage)
        return order[index + 1] if index + 1 < len(order) else None

    def allowed(self, source: Stage, move: Move) -> frozenset[Stage]:
        return frozenset(
            t.target for t in self.transitions if t.source == source and t.move == move
        )

    def permits(self, source: Stage, target: Stage, move: Move) -> bool:
        return Transition(source, target, move) in self.transitions

    def knows(self, stage: Stage) -> bool:
        return stage in self.order or stage in (BLOCKED, CANCELLED)


def _validate(stages: tuple[StageSpec, ...]) -> None:
    names = [s.name for s in stages]
    if len(names) < 2 or names[0] != QUEUED or names[-1] != DONE:
        raise ValueError("a pipeline starts with 'queued' and ends with 'done'")
    if len(set(names)) != len(names):
        raise ValueError("a stage name appears twice in the pipeline")
    if stages[-1].rollback_to is not None:
        raise ValueError("'done' is terminal and cannot roll back")
    for spec in stages:
        if spec.name in (BLOCKED, CANCELLED):
            raise ValueError(f"'{spec.name}' is reserved and cannot be a pipeline stage")
        if spec.rollback_to is not None and spec.rollback_to not in names[: names.index(spec.name)]:
            raise ValueError(
                f"stage '{spec.name}' rolls back to '{spec.rollback_to}', "
                "which is not an earlier stage"
            )


def _derive(stages: tuple[StageSpec, ...]) -> Iterable[Transition]:
    names = [s.name for s in stages]
    active = names[:-1]
    for current, following in itertools.pairwise(names):
        yield Transition(current, following, Move.ADVANCE)
    for spec in stages:
        if spec.rollback_to:
            yield Transition(spec.name, spec.rollback_to, Move.ROLLBACK)
    for stage in active:
        yield Transition(stage, BLOCKED, Move.BLOCK)
        yield Transition(BLOCKED, stage, Move.UNBLOCK)
        yield Transition(stage, CANCELLED, Move.CANCEL)
        yield Transition(stage, DONE, Move.CLOSE)
    yield Transition(BLOCKED, CANCELLED, Move.CANCEL)
    yield Transition(BLOCKED, DONE, Move.CLOSE)


DEFAULT_STAGES: tuple[StageSpec, ...] = (
    StageSpec(QUEUED),
    StageSpec("development", role="developer"),
    StageSpec("review", role="reviewer", gates=("review_approved",), rollback_to="development"),
    StageSpec("testing", role="tester", gates=("tests_passed",), rollback_to="development"),
    # a person approves the deploy: the task waits in merge until someone presses Approve
    StageSpec("merge", gates=(HUMAN_APPROVAL,)),
    StageSpec("deploy", role="deployer"),
    StageSpec(DONE),
)

DEFAULT_PIPELINE = Pipeline(DEFAULT_STAGES)

# Every move the default pipeline allows.
STAGE_TRANSITIONS: frozenset[Transition] = DEFAULT_PIPELINE.transitions
