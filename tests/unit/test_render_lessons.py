"""What the chat shows of the journal: one message however long it is, valid HTML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.callbacks import Action, ButtonCodec, Namespace
from bot.render import MESSAGE_LIMIT
from bot.render_lessons import (
    lesson_actions,
    lesson_card,
    lesson_keyboard,
    lesson_list,
    summary,
)
from core.lessons.journal import Attribution, Lesson, LessonsSnapshot, LessonStatus, Source
from sandbox.telegram.html_text import parse_html, utf16_len

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
HOSTILE = "<b>bold</b> & <script>x</script> 🚀" * 3


def lesson(n: int, **more: object) -> Lesson:
    values: dict[str, object] = {
        "id": n, "lesson_type": "gate_failure", "source": Source.AUTO,
        "status": LessonStatus.NEW, "version": 1, "created_at": NOW - timedelta(minutes=n % 5000),
        "work_item": f"ORCH-{n}", "repo": "api", "stage": "review", "detail": "tests_passed",
        "root_cause": HOSTILE,
    }
    values.update(more)
    return Lesson(**values)  # type: ignore[arg-type]


SNAP = LessonsSnapshot(True, True, 1000, {"gate_failure": 990, "<odd> & type": 10},
                       {"new": 999, "closed": 1}, {"gate_failure": 990})


def visible(html_text: str) -> str:
    parsed = parse_html(html_text)  # raises on anything Telegram would refuse
    assert parsed.length <= MESSAGE_LIMIT
    return parsed.text


def test_a_thousand_lessons_fit_one_message_newest_first_with_the_summary_on_top() -> None:
    lessons = [lesson(n) for n in range(1000, 0, -1)]

    text = lesson_list(lessons, SNAP)

    shown = visible(text)
    first, note, *rest = shown.splitlines()
    assert first == ("Lessons · 1000 · gate_failure 990, <odd> & type 10 · new 999, closed 1")
    kept = len(rest) - 1
    assert note == f"newest {kept} of 1000 found · /lesson ID shows one"
    assert rest[0].startswith("#1000 ") and rest[1].startswith("#999 ")
    assert rest[-1] == f"… {1000 - kept} more; narrow with type=, status=, repo= or a KEY."
    assert utf16_len(shown) > MESSAGE_LIMIT - 200  # full, not timid


def test_every_line_carries_its_id_and_outside_text_is_escaped() -> None:
    shown = visible(lesson_list([lesson(7), lesson(3)], SNAP))

    assert "#7 🆕 gate_failure · ORCH-7 · api/review · tests_passed: <b>bold</b> &" in shown
    assert "#3 " in shown


def test_an_empty_result_and_an_unreadable_journal_say_so() -> None:
    assert "No lessons match." in visible(lesson_list([], SNAP))
    down = visible(summary(LessonsSnapshot(True, available=False)))
    assert "could not be read" in down


def test_a_card_with_every_field_at_its_longest_fits_one_message() -> None:
    long = ("& <i> " * 400)[:2000]
    full = lesson(1, detail=long, root_cause=long, suggestion=long, related_task=long,
                  agent_role=long, target_repo=long, target_domain=long,
                  attribution=Attribution.BOTH, updated_at=NOW, task_id=5)

    shown = visible(lesson_card(full, NOW))

    assert shown.startswith("🆕 Lesson #1 · gate_failure · new · auto")
    assert "work item: ORCH-1 (task 5)" in shown and "attribution: both" in shown


def test_buttons_follow_the_status_and_the_attribution() -> None:
    assert lesson_actions(lesson(1)) == [
        [Action.IN_PROGRESS, Action.CLOSE],
        [Action.ATTRIBUTE_PLATFORM, Action.ATTRIBUTE_PROJECT, Action.ATTRIBUTE_BOTH]]
    working = lesson(1, status=LessonStatus.IN_PROGRESS, attribution=Attribution.PROJECT)
    assert lesson_actions(working) == [
        [Action.CLOSE], [Action.ATTRIBUTE_PLATFORM, Action.ATTRIBUTE_BOTH]]
    closed = lesson(1, status=LessonStatus.CLOSED)
    assert lesson_actions(closed)[0][0] is Action.ATTRIBUTE_PLATFORM


def test_button_data_names_the_lesson_and_the_version_shown() -> None:
    codec = ButtonCodec("token")
    markup = lesson_keyboard(lesson(123456789012, version=41), codec)

    assert markup is not None
    pressed = [codec.decode(b.callback_data) for row in markup.inline_keyboard for b in row]
    assert {(p.namespace, p.object_id, p.version) for p in pressed} == {
        (Namespace.LESSON, 123456789012, 41)}
