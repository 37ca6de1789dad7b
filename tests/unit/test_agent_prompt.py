"""The prompt an agent gets and how its result file is read (pure, no IO)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.jobs.agents import (
    MAX_LESSONS,
    RunOutcome,
    build_prompt,
    outcome_for,
    parse_structured_result,
)


def _prompt(**overrides: Any) -> str:
    fields: dict[str, Any] = {
        "task_key": "ORCH-42",
        "title": "Add retry to the webhook sender",
        "description": "Retry 5xx with backoff.",
        "stage": "development",
        "role": "developer",
        "attempt": 2,
    }
    return build_prompt(**(fields | overrides))


def test_prompt_names_the_task_and_the_job() -> None:
    text = _prompt(repo="api", branch="orch/ORCH-42")

    assert "ORCH-42: Add retry to the webhook sender" in text
    assert "Retry 5xx with backoff." in text
    assert "developer for the development stage (attempt 2)" in text
    assert "repo api · branch orch/ORCH-42" in text
    assert "ORCH_RESULT_FILE" in text


def test_prompt_without_failure_or_lessons_has_neither_section() -> None:
    text = _prompt(failure_reason="  ", lessons=[])

    assert "Previous failure" not in text
    assert "Lessons" not in text


def test_prompt_carries_the_failure_reason_after_a_rollback() -> None:
    text = _prompt(failure_reason="tests_passed: 1 failed, 9 passed")

    assert "## Previous failure" in text
    assert "tests_passed: 1 failed, 9 passed" in text


def test_prompt_lists_lessons_deduplicated_and_bounded() -> None:
    lessons = ["Run the linter   before committing", "Run the linter before committing"]
    lessons += [f"lesson {n}" for n in range(30)]

    text = _prompt(lessons=lessons)

    assert "## Lessons from this team's journal" in text
    assert text.count("- Run the linter before committing") == 1
    lesson_lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(lesson_lines) == MAX_LESSONS


def test_prompt_asks_a_reviewer_for_a_verdict_and_a_tester_for_coverage() -> None:
    assert '"verdict"' in _prompt(role="reviewer", stage="review")
    assert '"coverage"' in _prompt(role="tester", stage="testing")
    assert '"verdict"' not in _prompt()


def test_empty_description_is_said_so() -> None:
    assert "(no description)" in _prompt(description="")


def test_result_with_every_known_key_is_kept_with_extras() -> None:
    text = '{"verdict": "APPROVE", "summary": "ok", "tests_passed": true, "coverage": 87.5,'
    text += ' "files": ["a.py"]}'

    structured, note = parse_structured_result(text)

    assert note is None
    assert structured == {
        "verdict": "APPROVE",
        "summary": "ok",
        "tests_passed": True,
        "coverage": 87.5,
        "files": ["a.py"],
    }


@pytest.mark.parametrize("text", ["{not json", "", '{"verdict": "APPROVE"'])
def test_malformed_result_gives_nothing_and_a_note(text: str) -> None:
    structured, note = parse_structured_result(text)

    assert structured == {}
    assert note is not None and note.startswith("result file: malformed JSON")


def test_result_that_is_not_an_object_gives_nothing_and_a_note() -> None:
    assert parse_structured_result("[1, 2]") == (
        {},
        "result file: expected a JSON object, got list",
    )


@given(
    st.text()
    | st.recursive(
        st.none() | st.booleans() | st.floats() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    ).map(json.dumps)
)
def test_any_text_reads_without_raising(text: str) -> None:
    structured, note = parse_structured_result(text)

    assert isinstance(structured, dict)
    assert note is None or note.startswith("result file:")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("verdict", "LGTM"),
        ("summary", 3),
        ("tests_passed", "yes"),
        ("coverage", 120),
        ("coverage", True),
        ("coverage", "90"),
    ],
)
def test_known_key_with_a_wrong_value_is_dropped_and_named(key: str, value: Any) -> None:
    structured, note = parse_structured_result(json.dumps({key: value, "other": 1}))

    assert structured == {"other": 1}
    assert note == f"result file: ignored invalid {key}"


@pytest.mark.parametrize(
    ("exit_code", "timed_out", "expected"),
    [
        (0, False, RunOutcome.SUCCEEDED),
        (1, False, RunOutcome.FAILED),
        (75, False, RunOutcome.TRANSIENT),
        (None, True, RunOutcome.TRANSIENT),
        (-9, False, RunOutcome.FAILED),
        (None, False, RunOutcome.FAILED),
    ],
)
def test_outcome_follows_the_exit_code(
    exit_code: int | None, timed_out: bool, expected: RunOutcome
) -> None:
    assert outcome_for(exit_code, timed_out=timed_out, transient_exit_code=75) is expected
