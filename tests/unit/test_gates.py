"""The gate registry: each check's outcomes, configuration errors, and gate order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from core.errors import ConfigError
from core.jobs.gates import QG_CHECKS, GateContext, GateOutcome, gate_order, validate_gates
from core.pipeline.stages import DEFAULT_PIPELINE, HUMAN_APPROVAL, Pipeline, StageSpec
from core.pipeline.tasks import ChangeKind, Task, TaskEvent

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
TASK = Task(1, "ORCH-1", "api", "t", "testing", 5, T0, T0, T0)
TESTING = StageSpec("testing", role="tester", gates=("tests_passed", "coverage"))
DEPLOY = StageSpec("deploy", role="deployer", gates=(HUMAN_APPROVAL,))


async def check(gate: str, result: dict[str, Any], stage: StageSpec = TESTING,
                events: tuple[TaskEvent, ...] = (), entry: int = 0) -> GateOutcome:
    ctx = GateContext(TASK, stage, result, events, entry, coverage_threshold=80)
    return await QG_CHECKS[gate](ctx)


@pytest.mark.parametrize(("result", "expected"), [
    ({"tests_passed": True, "summary": "10 passed"}, (True, "tests passed: 10 passed")),
    ({"tests_passed": False, "summary": "1 failed"}, (False, "tests failed: 1 failed")),
    ({}, (False, "the tester reported no test result")),
    ({"tests_passed": "yes"}, (False, "the tester reported no test result")),
])
async def test_tests_passed(result: dict[str, Any], expected: tuple[bool, str]) -> None:
    assert await check("tests_passed", result) == expected


@pytest.mark.parametrize(("result", "expected"), [
    ({"coverage": 91.5}, (True, "coverage 91.5% ≥ 80%")),
    ({"coverage": 80}, (True, "coverage 80% ≥ 80%")),
    ({"coverage": 42.0}, (False, "coverage 42% is below 80%")),
    ({"coverage": True}, (False, "the tester reported no coverage")),
    ({}, (False, "the tester reported no coverage")),
])
async def test_coverage(result: dict[str, Any], expected: tuple[bool, str]) -> None:
    assert await check("coverage", result) == expected


@pytest.mark.parametrize(("result", "expected"), [
    ({"verdict": "APPROVE"}, (True, "review approved")),
    ({"verdict": "REQUEST_CHANGES", "summary": "add a test"},
     (False, "review requested changes: add a test")),
    ({"verdict": "MAYBE"}, (False, "the reviewer gave no verdict")),
    ({}, (False, "the reviewer gave no verdict")),
])
async def test_review_approved(result: dict[str, Any], expected: tuple[bool, str]) -> None:
    assert await check("review_approved", result) == expected


def event(version: int, kind: ChangeKind, source: str, target: str) -> TaskEvent:
    return TaskEvent(version, 1, "ORCH-1", T0, "telegram:7", kind, source, target, version)


async def test_human_approval_waits_without_an_approval_in_the_stage() -> None:
    entered = event(4, ChangeKind.NEEDS_APPROVAL, "merge", "deploy")

    outcome = await check(HUMAN_APPROVAL, {}, DEPLOY, (entered,), entry=4)

    assert outcome == (False, "waits for approval to leave deploy")


async def test_human_approval_passes_on_an_approval_recorded_in_the_stage() -> None:
    old = event(2, ChangeKind.APPROVED, "deploy", "deploy")  # an earlier stay
    entered = event(4, ChangeKind.NEEDS_APPROVAL, "merge", "deploy")
    approved = event(5, ChangeKind.APPROVED, "deploy", "deploy")

    assert not (await check(HUMAN_APPROVAL, {}, DEPLOY, (old, entered), entry=4)).passed
    assert (await check(HUMAN_APPROVAL, {}, DEPLOY, (entered, approved), entry=4)).passed


async def test_human_approval_names_the_person_when_the_approval_does() -> None:
    entered = event(4, ChangeKind.NEEDS_APPROVAL, "merge", "deploy")
    approved = event(5, ChangeKind.APPROVED, "deploy", "deploy")
    named = replace(approved, reason="approved by Lena")

    assert await check(HUMAN_APPROVAL, {}, DEPLOY, (entered, named), entry=4) == (
        True, "approved by Lena")
    assert await check(HUMAN_APPROVAL, {}, DEPLOY, (entered, approved), entry=4) == (
        True, "approved by telegram:7")  # an approval without words: its actor


def test_the_default_pipeline_names_only_known_gates() -> None:
    validate_gates(DEFAULT_PIPELINE)


def test_an_unknown_gate_is_a_configuration_error() -> None:
    pipeline = Pipeline((StageSpec("queued"), StageSpec("qa", gates=("ci_greem",)),
                         StageSpec("done")))

    with pytest.raises(ConfigError, match="stage 'qa' names unknown gate 'ci_greem'"):
        validate_gates(pipeline)


def test_waiting_gates_come_last() -> None:
    spec = StageSpec("ship", gates=(HUMAN_APPROVAL, "tests_passed", "coverage"))

    assert gate_order(spec) == ("tests_passed", "coverage", HUMAN_APPROVAL)
