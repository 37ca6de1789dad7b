"""Small answers that must be right: quotes, unknown keys, unknown tasks and types."""

from __future__ import annotations

import pytest

from core.pipeline.tasks import Actor
from sandbox.team import DEV, GROUP, LEAD, Team


@pytest.mark.parametrize("typed", ['"Add retry"', "'Add retry'", "“Add retry”", "«Add retry»"])
async def test_new_takes_the_title_without_its_quotes(team: Team, typed: str) -> None:
    reply = await team.say(f"/new api {typed}")

    assert "Created ORCH-1" in reply["plain_text"]
    assert (await team.orch.pipeline.find("ORCH-1")).title == "Add retry"


async def test_new_keeps_quotes_inside_a_title(team: Team) -> None:
    await team.say('/new api Say "hello" politely')

    assert (await team.orch.pipeline.find("ORCH-1")).title == 'Say "hello" politely'


async def test_new_refuses_an_empty_quoted_title(team: Team) -> None:
    reply = await team.say('/new api ""')

    assert "Usage: /new" in reply["plain_text"]


@pytest.mark.parametrize("key", ["ORCH-99999999999999", "ORCH-7"])
async def test_task_with_a_key_nobody_has_is_unknown(team: Team, key: str) -> None:
    reply = await team.say(f"/task {key}")

    assert reply["plain_text"] == f"Unknown task {key}."


async def test_a_lesson_is_not_added_to_a_task_that_does_not_exist(team: Team) -> None:
    reply = await team.say("/lesson add note NOPE-1 text")

    assert reply["plain_text"] == "Unknown task NOPE-1."
    assert (await team.orch.lessons.snapshot()).total == 0


async def test_lessons_names_an_unknown_type(team: Team) -> None:
    reply = await team.say("/lessons type=bogus")

    assert "Unknown lesson type 'bogus'" in reply["plain_text"]
    assert "gate_failure" in reply["plain_text"]


async def test_a_type_people_added_is_known(team: Team) -> None:
    await team.say("/new api Rotate keys")
    await team.say("/lesson add note ORCH-1 keys were old")

    reply = await team.say("/lessons type=note")

    assert "ORCH-1" in reply["plain_text"] and "Unknown" not in reply["plain_text"]


async def test_a_finished_task_card_ticks_only_the_stages_it_finished(team: Team) -> None:
    await team.say("/new api Close me early")
    task = await team.orch.pipeline.find("ORCH-1")
    tracker = Actor("plane")  # the sync acts as its tracker, by name
    await team.orch.pipeline.approve(task.id, tracker)
    task = await team.orch.pipeline.find("ORCH-1")
    await team.orch.pipeline.close(task.id, tracker, "moved to Done in Plane")

    reply = await team.say("/task ORCH-1")

    assert "✓" not in reply["plain_text"] and "done since" in reply["plain_text"]


async def test_whoami_gives_the_ids_the_settings_need(team: Team) -> None:
    mine = await team.say("/whoami")
    theirs = await team.say("/whoami", user=DEV)

    assert f"user id {LEAD}: an approver" in mine["plain_text"]
    assert f"This chat's id is {GROUP}" in mine["plain_text"]
    assert f"not an approver (add {DEV} to ORCH_APPROVERS" in theirs["plain_text"]
