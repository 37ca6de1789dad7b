"""The team reads and triages the lessons journal from its group, over real HTTP."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest

from app.runtime import Orch, running
from bot.app import ALL_FEATURES
from bot.context import Services
from bot.handlers import lessons as lessons_feature
from core.clock import ManualClock
from core.lessons.config import LessonsConfig
from core.lessons.journal import LessonJournal, LessonStatus
from sandbox.team import DEV, Team, sandbox_settings
from sandbox.telegram.emulator import TelegramEmulator
from storage.lessons import SqliteLessonStore

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class _ServicesWithLessons(Services):
    lessons: LessonJournal


def journal_of(orch: Orch) -> LessonJournal:
    """The running orch's journal; wired here until the lead wires it in app/runtime."""
    if lessons_feature in ALL_FEATURES:
        return orch.services.lessons  # type: ignore[attr-defined, no-any-return]
    journal = LessonJournal.from_config(SqliteLessonStore(orch.db), orch.clock,
                                        LessonsConfig.from_settings(orch.settings))
    values = {f.name: getattr(orch.services, f.name) for f in fields(Services)
              if f.name != "lessons"}
    orch.app.add_handlers(lessons_feature.handlers(_ServicesWithLessons(**values,
                                                                        lessons=journal)))
    orch.queue.add_source(journal)
    return journal


@pytest.fixture
def journal(team: Team) -> LessonJournal:
    return journal_of(team.orch)


async def gate_failure(team: Team, journal: LessonJournal) -> int:
    await team.say("/new api Add retry to the webhook sender")
    task = await team.orch.pipeline.find("ORCH-1")
    lesson_id = await journal.on_gate_failure(task, "testing", "tester", "tests_passed",
                                              "2 failed: test_retry <timeout> & more")
    assert lesson_id is not None
    return lesson_id


async def edited_to(team: Team, message_id: int, text: str) -> dict[str, Any]:
    def message() -> dict[str, Any]:
        return next(m for m in team.group() if m["message_id"] == message_id)

    assert await team.emu.wait_for(lambda: text in message()["plain_text"], 10.0)
    return message()


async def test_a_gate_failure_is_listed_and_closed_from_its_card(
        team: Team, journal: LessonJournal) -> None:
    lesson_id = await gate_failure(team, journal)

    listed = await team.say("/lessons")
    assert listed["plain_text"].startswith("Lessons · 1 · gate_failure 1 · new 1")
    assert f"#{lesson_id} 🆕 gate_failure · ORCH-1 · api/testing" in listed["plain_text"]
    assert "<timeout> & more" in listed["plain_text"]

    card = await team.say(f"/lesson {lesson_id}")
    assert set(team.buttons(card)) == {"In progress", "Close", "Attribute: platform",
                                       "Attribute: project", "Attribute: both"}
    answer = await team.press(card["message_id"], team.buttons(card)["Close"])
    assert answer["text"] == f"Lesson #{lesson_id}: closed."
    edited = await edited_to(team, card["message_id"], "closed")
    assert "Close" not in team.buttons(edited)
    assert (await journal.find(lesson_id)).status == LessonStatus.CLOSED  # type: ignore[union-attr]


async def test_a_copy_of_a_lesson_card_loses_its_buttons_when_another_closes_it(
        team: Team, journal: LessonJournal) -> None:
    lesson_id = await gate_failure(team, journal)
    first = await team.say(f"/lesson {lesson_id}")
    second = await team.say(f"/lesson {lesson_id}")  # a second copy, further down the chat

    await team.press(second["message_id"], team.buttons(second)["Close"])

    pressed = await edited_to(team, second["message_id"], "closed")
    other = await edited_to(team, first["message_id"], "now closed")
    assert "Close" not in team.buttons(pressed) and team.buttons(pressed)  # attribute still
    assert not other["reply_markup"]  # no button offers what is gone
    assert f"/lesson {lesson_id} shows it as it is" in other["plain_text"]
    await team.settle()
    # the card that was pressed keeps its current buttons: nothing retires it later
    assert team.buttons(next(m for m in team.group() if m["message_id"] == second["message_id"]))


async def test_an_old_card_cannot_overwrite_a_newer_change(
        team: Team, journal: LessonJournal) -> None:
    lesson_id = await gate_failure(team, journal)
    card = await team.say(f"/lesson {lesson_id}")
    old = team.buttons(card)

    assert "in_progress" in (await team.press(card["message_id"], old["In progress"]))["text"]
    answer = await team.press(card["message_id"], old["Close"])

    assert "out of date" in answer["text"]
    lesson = await journal.find(lesson_id)
    assert lesson is not None and (lesson.status, lesson.version) == ("in_progress", 2)


async def test_only_approvers_triage_or_add_lessons(team: Team, journal: LessonJournal) -> None:
    lesson_id = await gate_failure(team, journal)
    card = await team.say(f"/lesson {lesson_id}", user=DEV)  # reading is for everyone
    answer = await team.press(card["message_id"], team.buttons(card)["Close"], user=DEV)
    assert "Only approvers" in answer["text"]
    refused = await team.say("/lesson add process_gap ORCH-1 nobody reviewed it", user=DEV)
    assert "Only approvers" in refused["plain_text"]
    assert (await journal.snapshot()).by_status == {"new": 1}


async def test_a_manual_lesson_is_added_with_the_task_repo(
        team: Team, journal: LessonJournal) -> None:
    await team.say("/new api Rotate keys")
    answer = await team.say("/lesson add process_gap orch-1 nobody reviewed the migration")
    assert "Recorded lesson #1 (process_gap) on ORCH-1" in answer["plain_text"]
    lesson = await journal.find(1)
    assert lesson is not None
    assert (lesson.source, lesson.repo, lesson.root_cause) == (
        "manual", "api", "nobody reviewed the migration")
    assert await journal.open_lessons("api", "development") == [
        "#1 process_gap on ORCH-1 — nobody reviewed the migration"]


@pytest.mark.parametrize("command", ["/lessons status=done", "/lessons colour=red",
                                     "/lessons 0", "/lessons api/x!",
                                     "/lessons limit=²"])
async def test_bad_filters_get_the_usage_line_and_nothing_else(
        team: Team, journal: LessonJournal, command: str) -> None:
    before = len(team.bot_messages())
    reply = await team.say(command)
    assert "Usage: /lessons" in reply["plain_text"]
    assert len(team.bot_messages()) == before + 1


async def test_lesson_usage_and_unknown_ids(team: Team, journal: LessonJournal) -> None:
    assert "Usage: /lesson ID" in (await team.say("/lesson"))["plain_text"]
    assert "Usage: /lesson add" in (await team.say("/lesson add x"))["plain_text"]
    assert "No lesson #42." in (await team.say("/lesson 42"))["plain_text"]
    assert "Usage: /lesson ID" in (await team.say("/lesson ²"))["plain_text"]


async def test_forged_lesson_buttons_are_refused(team: Team, journal: LessonJournal) -> None:
    lesson_id = await gate_failure(team, journal)
    card = await team.say(f"/lesson {lesson_id}")
    answer = await team.press(card["message_id"], f"l:cl:{lesson_id}:1:0000000000")
    assert "not valid" in answer["text"]
    assert (await journal.find(lesson_id)).status == "new"  # type: ignore[union-attr]


async def test_the_queue_shows_the_lessons_block(team: Team, journal: LessonJournal) -> None:
    await gate_failure(team, journal)
    reply = await team.say("/queue")
    assert "Lessons" in reply["plain_text"]
    assert "1 open: gate_failure 1" in reply["plain_text"]


async def test_switched_off_the_commands_say_so(
        emulator: TelegramEmulator, clock: ManualClock, tmp_path: Path) -> None:
    async with emulator.serve() as url:
        settings = sandbox_settings(url, tmp_path / "orch.db", lessons_enabled=False)
        async with running(settings, clock, poll_timeout=1) as orch:
            team = Team(emulator, orch, clock)
            journal_of(orch)
            for command in ("/lessons", "/lesson 1"):
                assert "switched off" in (await team.say(command))["plain_text"]
