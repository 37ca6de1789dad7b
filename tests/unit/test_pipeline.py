"""The pipeline: which moves exist, checked exhaustively against the rules in DESIGN §2."""

from __future__ import annotations

import itertools
import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import parse_config_document
from core.errors import IllegalTransition
from core.pipeline.service import PipelineService
from core.pipeline.stages import (
    BLOCKED,
    CANCELLED,
    DEFAULT_PIPELINE,
    DONE,
    HUMAN_APPROVAL,
    QUEUED,
    RESERVED,
    STAGE_TRANSITIONS,
    Move,
    Pipeline,
    Stage,
    StageSpec,
)
from core.pipeline.tasks import SYSTEM

# --- the rules, restated from the stage list ----------------------------------------


def is_legal(pipeline: Pipeline, source: Stage, target: Stage, move: Move) -> bool:
    """DESIGN §2's rules in one place, computed from the order and the rollback targets."""
    order = pipeline.order
    active = order[:-1]
    alive = (*active, BLOCKED)
    if move is Move.ADVANCE:
        return source in active and target == order[order.index(source) + 1]
    if move is Move.ROLLBACK:
        return source in active and target == pipeline.spec(source).rollback_to
    if move is Move.BLOCK:
        return source in active and target == BLOCKED
    if move is Move.UNBLOCK:
        return source == BLOCKED and target in active
    if move is Move.CANCEL:
        return source in alive and target == CANCELLED
    return source in alive and target == DONE  # Move.CLOSE


def combinations(pipeline: Pipeline) -> list[tuple[Stage, Stage, Move]]:
    """Every (source, target, move) over all stages, legal or not."""
    stages = (*pipeline.order, BLOCKED, CANCELLED)
    return list(itertools.product(stages, stages, Move))


def mismatches(pipeline: Pipeline) -> list[tuple[Stage, Stage, Move]]:
    return [
        (s, t, m)
        for s, t, m in combinations(pipeline)
        if pipeline.permits(s, t, m) != is_legal(pipeline, s, t, m)
    ]


# --- the default pipeline -----------------------------------------------------------


def test_every_legal_move_of_the_default_pipeline_is_permitted() -> None:
    legal = [c for c in combinations(DEFAULT_PIPELINE) if is_legal(DEFAULT_PIPELINE, *c)]

    assert [c for c in legal if not DEFAULT_PIPELINE.permits(*c)] == []
    assert len(legal) == len(STAGE_TRANSITIONS)


def test_every_other_move_of_the_default_pipeline_is_refused() -> None:
    illegal = [c for c in combinations(DEFAULT_PIPELINE) if not is_legal(DEFAULT_PIPELINE, *c)]

    assert [c for c in illegal if DEFAULT_PIPELINE.permits(*c)] == []
    assert len(illegal) == len(combinations(DEFAULT_PIPELINE)) - len(STAGE_TRANSITIONS)


def test_default_pipeline_rolls_back_only_review_and_testing() -> None:
    rollbacks = {(t.source, t.target) for t in STAGE_TRANSITIONS if t.move is Move.ROLLBACK}

    assert rollbacks == {("review", "development"), ("testing", "development")}


def test_default_pipeline_order_and_approvals() -> None:
    assert DEFAULT_PIPELINE.order == (
        QUEUED, "development", "review", "testing", "merge", "deploy", DONE,
    )  # fmt: skip
    approvals = [s.name for s in DEFAULT_PIPELINE.stages if s.needs_approval]
    assert approvals == [QUEUED, "merge"]


@pytest.mark.parametrize("terminal", [DONE, CANCELLED])
def test_nothing_leaves_a_terminal_stage(terminal: Stage) -> None:
    assert [t for t in STAGE_TRANSITIONS if t.source == terminal] == []
    assert all(not DEFAULT_PIPELINE.allowed(terminal, move) for move in Move)


def test_blocked_can_only_unblock_cancel_or_close() -> None:
    moves = {t.move for t in STAGE_TRANSITIONS if t.source == BLOCKED}

    assert moves == {Move.UNBLOCK, Move.CANCEL, Move.CLOSE}
    assert DEFAULT_PIPELINE.allowed(BLOCKED, Move.UNBLOCK) == set(DEFAULT_PIPELINE.active)


# --- unblocking, at the service -----------------------------------------------------


@pytest.mark.parametrize("stage", DEFAULT_PIPELINE.active)
async def test_unblock_returns_to_the_stage_blocked_in(
    service: PipelineService, stage: Stage
) -> None:
    task = await service.create("app", "t", SYSTEM)
    while task.stage != stage:
        task = await service.advance(task.id, SYSTEM)

    blocked = await service.block(task.id, SYSTEM, "waiting")
    unblocked = await service.unblock(task.id, SYSTEM)

    assert (blocked.stage, blocked.blocked_from) == (BLOCKED, stage)
    assert (unblocked.stage, unblocked.blocked_from) == (stage, None)


async def test_unblock_refuses_a_task_that_is_not_blocked(service: PipelineService) -> None:
    task = await service.create("app", "t", SYSTEM)

    with pytest.raises(IllegalTransition):
        await service.unblock(task.id, SYSTEM)


async def test_a_blocked_task_cannot_be_blocked_again(service: PipelineService) -> None:
    task = await service.create("app", "t", SYSTEM)
    await service.block(task.id, SYSTEM, "waiting")

    with pytest.raises(IllegalTransition):
        await service.block(task.id, SYSTEM, "again")
    assert (await service.get(task.id)).blocked_from == QUEUED


# --- validation ---------------------------------------------------------------------


def specs(*names: str) -> tuple[StageSpec, ...]:
    return tuple(StageSpec(name) for name in names)


@pytest.mark.parametrize(
    ("stages", "complaint"),
    [
        (specs("dev", DONE), "starts with 'queued'"),
        (specs(QUEUED, "dev"), "ends with 'done'"),
        (specs(QUEUED), "starts with 'queued'"),
        ((), "starts with 'queued'"),
        (specs(QUEUED, "dev", "dev", DONE), "appears twice"),
        (specs(QUEUED, DONE, "dev", DONE), "appears twice"),
        (specs(QUEUED, BLOCKED, DONE), "reserved"),
        (specs(QUEUED, CANCELLED, DONE), "reserved"),
    ],
)
def test_a_malformed_stage_list_is_refused(stages: tuple[StageSpec, ...], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        Pipeline(stages)


@pytest.mark.parametrize(
    ("stage", "rollback_to"),
    [("dev", "review"), ("dev", "dev"), ("dev", "nowhere"), (DONE, "dev")],
)
def test_rollback_must_go_to_an_earlier_stage_and_never_from_done(
    stage: Stage, rollback_to: Stage
) -> None:
    stages = tuple(
        StageSpec(name, rollback_to=rollback_to if name == stage else None)
        for name in (QUEUED, "dev", "review", DONE)
    )

    with pytest.raises(ValueError, match="roll"):
        Pipeline(stages)


# --- a configured pipeline ----------------------------------------------------------

CUSTOM = """
[[pipeline.stages]]
name = "build"
role = "developer"

[[pipeline.stages]]
name = "qa"
role = "tester"
gates = ["tests_passed"]
rollback_to = "build"

[[pipeline.stages]]
name = "ship"
gates = ["human_approval"]
"""


def test_a_toml_pipeline_derives_its_transitions() -> None:
    pipeline = parse_config_document(tomllib.loads(CUSTOM))["pipeline"]

    assert pipeline.order == (QUEUED, "build", "qa", "ship", DONE)
    assert mismatches(pipeline) == []
    assert pipeline.permits("qa", "build", Move.ROLLBACK)
    assert pipeline.permits("ship", DONE, Move.ADVANCE)
    assert pipeline.spec("ship").needs_approval
    assert not pipeline.permits("build", "review", Move.ADVANCE)


# --- any valid pipeline -------------------------------------------------------------

stage_names = st.from_regex(r"[a-z][a-z_]{0,7}", fullmatch=True).filter(
    lambda name: name not in RESERVED
)


@st.composite
def pipelines(draw: st.DrawFn) -> Pipeline:
    order = [QUEUED, *draw(st.lists(stage_names, unique=True, max_size=8)), DONE]
    gates = st.lists(st.sampled_from([HUMAN_APPROVAL, "ci_green", "coverage"]), unique=True)
    stages = []
    for index, name in enumerate(order):
        earlier = order[:index] if name != DONE else []
        rollback = draw(st.none() | st.sampled_from(earlier)) if earlier else None
        stages.append(StageSpec(name, gates=tuple(draw(gates)), rollback_to=rollback))
    return Pipeline(tuple(stages))


@settings(database=None)
@given(pipelines())
def test_any_pipeline_permits_exactly_the_legal_moves(pipeline: Pipeline) -> None:
    assert mismatches(pipeline) == []


@settings(database=None)
@given(pipelines())
def test_advancing_from_queued_reaches_done_in_one_step_per_stage(pipeline: Pipeline) -> None:
    stage, steps = QUEUED, 0
    while stage != DONE:
        (stage,) = pipeline.allowed(stage, Move.ADVANCE)
        steps += 1

    assert steps == len(pipeline.stages) - 1


@settings(database=None)
@given(pipelines())
def test_any_active_stage_can_be_blocked_and_unblocked_back(pipeline: Pipeline) -> None:
    for stage in pipeline.active:
        assert pipeline.permits(stage, BLOCKED, Move.BLOCK)
        assert pipeline.permits(BLOCKED, stage, Move.UNBLOCK)
