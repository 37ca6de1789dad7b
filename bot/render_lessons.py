"""Text and buttons for the lessons journal: /lessons, a lesson's card. Pure functions.

Every piece of outside text goes through `esc`. Lists fit one message by leaving whole
lines out and saying how many, never by cutting markup; length is measured as Telegram
measures it: UTF-16 units of the text after the HTML is parsed.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import Action, ButtonCodec, ButtonData, Namespace
from bot.render import MESSAGE_LIMIT, clip, esc, since
from core.lessons.journal import Attribution, Lesson, LessonsSnapshot, LessonStatus

STATUS_ICONS = {LessonStatus.NEW: "🆕", LessonStatus.IN_PROGRESS: "🛠", LessonStatus.CLOSED: "✅"}
LINE_TEXT = 90
CARD_TEXT = 400
SUMMARY_KINDS = 6
NOTES_ROOM = 160  # the "newest N of M" and "… more" notes
TAG = re.compile(r"<[^>]*>")
OFF = "The lessons journal is switched off (ORCH_LESSONS_ENABLED=false)."
UNAVAILABLE = "The lessons journal could not be read just now; try again shortly."

ATTRIBUTE_ACTIONS = {
    Action.ATTRIBUTE_PLATFORM: Attribution.PLATFORM,
    Action.ATTRIBUTE_PROJECT: Attribution.PROJECT,
    Action.ATTRIBUTE_BOTH: Attribution.BOTH,
}
LABELS = {
    Action.CLOSE: "Close",
    Action.IN_PROGRESS: "In progress",
    Action.ATTRIBUTE_PLATFORM: "Attribute: platform",
    Action.ATTRIBUTE_PROJECT: "Attribute: project",
    Action.ATTRIBUTE_BOTH: "Attribute: both",
}


def visible_units(html_text: str) -> int:
    """The length Telegram counts: UTF-16 units of the text once tags and entities are
    parsed. Exact for our markup, since every outside `<` and `&` arrives escaped."""
    text = html.unescape(TAG.sub("", html_text))
    return len(text.encode("utf-16-le")) // 2


def summary(snap: LessonsSnapshot) -> str:
    """One line: the journal's total, then counts by type and by status."""
    if not snap.available:
        return f"<b>Lessons</b> · {esc(UNAVAILABLE)}"
    return (f"<b>Lessons</b> · {snap.total} · {_counts(snap.by_type)}"
            f" · {_counts(snap.by_status)}")


def lesson_line(lesson: Lesson) -> str:
    """One compact line per lesson, starting with its id."""
    where = "/".join(p for p in (lesson.repo, lesson.stage) if p)
    what = ": ".join(p for p in (lesson.detail, lesson.root_cause) if p)
    parts = [f"<b>#{lesson.id}</b> {STATUS_ICONS[lesson.status]} {esc(lesson.lesson_type)}"]
    parts += [esc(p) for p in (lesson.work_item, where) if p]
    if what:
        parts.append(esc(clip(" ".join(what.split()), LINE_TEXT)))
    return " · ".join(parts)


def lesson_list(lessons: Sequence[Lesson], snap: LessonsSnapshot, *,
                limit: int = MESSAGE_LIMIT) -> str:
    """/lessons: the summary line, then as many lesson lines as fit, newest first."""
    head = summary(snap)
    if not lessons:
        return f"{head}\nNo lessons match."
    lines = [lesson_line(lesson) for lesson in lessons]
    kept = _fitting(head, lines, limit)
    note = f"<i>newest {kept} of {len(lines)} found · /lesson ID shows one</i>"
    text = "\n".join([head, note, *lines[:kept]])
    if kept < len(lines):
        text += f"\n… {len(lines) - kept} more; narrow with type=, status=, repo= or a KEY."
    return text


def lesson_card(lesson: Lesson, now: datetime) -> str:
    """One lesson in full, as /lesson ID shows it (buttons come separately)."""
    lines = [f"{STATUS_ICONS[lesson.status]} <b>Lesson #{lesson.id}</b> · "
             f"{esc(lesson.lesson_type)} · {esc(lesson.status)} · {esc(lesson.source)}"]
    lines.append(_field("work item", lesson.work_item)
                 + (f" (task {lesson.task_id})" if lesson.task_id is not None else ""))
    for name, value in _card_fields(lesson):
        if value:
            lines.append(_field(name, value))
    stamp = f"recorded {since(lesson.created_at, now)}"
    if lesson.updated_at is not None:
        stamp += f" · changed {since(lesson.updated_at, now)}"
    lines.append(f"<i>{stamp}</i>")
    return "\n".join(line for line in lines if line)


def lesson_actions(lesson: Lesson) -> list[list[Action]]:
    """The buttons a lesson's card offers: status moves, then attributions."""
    moves = {LessonStatus.NEW: [Action.IN_PROGRESS, Action.CLOSE],
             LessonStatus.IN_PROGRESS: [Action.CLOSE], LessonStatus.CLOSED: []}[lesson.status]
    attribute = [a for a, value in ATTRIBUTE_ACTIONS.items() if value != lesson.attribution]
    return [row for row in (moves, attribute) if row]


def lesson_keyboard(lesson: Lesson, codec: ButtonCodec) -> InlineKeyboardMarkup | None:
    rows = [[InlineKeyboardButton(LABELS[action], callback_data=codec.encode(
        ButtonData(Namespace.LESSON, action, lesson.id, lesson.version))) for action in row]
        for row in lesson_actions(lesson)]
    return InlineKeyboardMarkup(rows) if rows else None


def _counts(counts: Mapping[str, int]) -> str:
    if not counts:
        return "none"
    items = list(counts.items())
    shown = ", ".join(f"{esc(name)} {n}" for name, n in items[:SUMMARY_KINDS])
    rest = len(items) - SUMMARY_KINDS
    return shown + (f", +{rest} more" if rest > 0 else "")


def _fitting(head: str, lines: Sequence[str], limit: int) -> int:
    """How many of `lines` fit after `head`, leaving room for the notes."""
    room = limit - visible_units(head) - NOTES_ROOM
    kept = 0
    for line in lines:
        room -= visible_units(line) + 1
        if room < 0:
            break
        kept += 1
    return kept


def _card_fields(lesson: Lesson) -> list[tuple[str, str | None]]:
    where = " · ".join(p for p in (lesson.repo, lesson.stage, lesson.agent_role) if p)
    target = " · ".join(p for p in (lesson.target_repo, lesson.target_domain) if p)
    return [("where", where), ("detail", lesson.detail), ("root cause", lesson.root_cause),
            ("suggestion", lesson.suggestion), ("related task", lesson.related_task),
            ("attribution", lesson.attribution), ("target", target)]


def _field(name: str, value: str | None) -> str:
    if not value:
        return ""
    return f"{esc(name)}: {esc(clip(' '.join(value.split()), CARD_TEXT))}"
