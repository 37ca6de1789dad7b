"""/lessons, /lesson ID, /lesson add TYPE KEY text…, and the lesson card's buttons.

Reading is open to the group; recording and triage are for approvers. Buttons carry the
lesson's version, so a press on an old card changes nothing and shows the current one.
"""

from __future__ import annotations

import re

from telegram import CallbackQuery, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, ContextTypes

from bot import render_lessons as view
from bot.answers import STALE, answer
from bot.auth import NOT_APPROVER, is_approver
from bot.callbacks import Action, ButtonData, Namespace
from bot.chat_sender import markup_json
from bot.context import Services, user_id
from bot.presses import approved_press
from bot.render import esc
from bot.replies import reply
from core.errors import DomainError
from core.lessons.journal import (
    LESSON_TYPE,
    TEXT_LIMIT,
    Lesson,
    LessonDraft,
    LessonJournal,
    LessonsSnapshot,
    LessonStatus,
    LessonType,
    LessonUpdate,
    Source,
)
from core.lessons.requests import WORK_ITEM, parse_filter

LIST_USAGE = ("Usage: /lessons [type=TYPE] [status=new|in_progress|closed|open] [repo=REPO] "
              "[KEY] [LIMIT], for example /lessons status=open repo=api 10")
LESSON_USAGE = "Usage: /lesson ID, or /lesson add TYPE KEY what went wrong"
ADD_USAGE = "Usage: /lesson add TYPE KEY what went wrong, for example /lesson add process_gap " \
            "ORCH-12 nobody reviewed the migration"
CHAT_MAX_LIMIT = 200
FILTER_ARG = re.compile(r"^([a-z_]+)=(.*)$")
LESSON_ID = re.compile(r"^#?[0-9]{1,12}$")

Handlers = list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]


def handlers(services: Services) -> Handlers:
    journal: LessonJournal = services.lessons  # type: ignore[attr-defined]

    async def lessons(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Lists lessons newest first under a summary line, within one message."""
        query = parse_filter(_filter_args(context.args or []), max_limit=CHAT_MAX_LIMIT)
        if isinstance(query, str):
            await reply(services, update, esc(f"{query}. {LIST_USAGE}"))
            return
        if not journal.enabled:
            await reply(services, update, esc(view.OFF))
            return
        snapshot = await journal.snapshot()
        unknown = _unknown_type(query.lesson_type, snapshot)
        if unknown:
            await reply(services, update, esc(unknown))
            return
        found = await journal.get(query)
        await reply(services, update, view.lesson_list(found, snapshot))

    async def lesson(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Shows one lesson with its buttons, or records a manual one (`add`)."""
        args = context.args or []
        if args[:1] == ["add"]:
            await _add(services, journal, update, args[1:])
            return
        if len(args) != 1 or not LESSON_ID.match(args[0]):
            await reply(services, update, esc(LESSON_USAGE))
            return
        await _show(services, journal, update, int(args[0].lstrip("#")))

    async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Applies a lesson card's button if the card is current and the user may."""
        pressed = await approved_press(services, update, Namespace.LESSON)
        if pressed is not None:
            await _apply(services, journal, *pressed)

    return [CommandHandler("lessons", lessons), CommandHandler("lesson", lesson),
            CallbackQueryHandler(press, pattern=r"^l:")]


def _unknown_type(kind: str | None, snapshot: LessonsSnapshot) -> str | None:
    """Why a type filter can find nothing: neither a type orch records nor one in the
    journal (people may add free-form types, so those count as known too)."""
    known = sorted({*LessonType, *snapshot.by_type})
    if kind is None or kind in known or not snapshot.available:
        return None
    return f"Unknown lesson type {kind!r}. Known types: {', '.join(known)}."


def _filter_args(args: list[str]) -> dict[str, str]:
    """`name=value` pairs, a bare number as the limit and a bare word as the work item."""
    found: dict[str, str] = {}
    for arg in args:
        match = FILTER_ARG.match(arg)
        if match:
            found[match.group(1)] = match.group(2)
        elif arg.isascii() and arg.isdigit():
            found["limit"] = arg
        else:
            found["key"] = arg  # parse_filter says if it is no work item key
    return found


async def _show(services: Services, journal: LessonJournal, update: Update,
                lesson_id: int) -> None:
    if not journal.enabled:
        await reply(services, update, esc(view.OFF))
        return
    found = await journal.find(lesson_id)
    if found is None:
        await reply(services, update, esc(f"No lesson #{lesson_id}."))
        return
    keyboard = view.lesson_keyboard(found, services.codec)
    await reply(services, update, view.lesson_card(found, services.clock.now()), keyboard,
                lesson=(found.id, found.version) if keyboard else None)


async def _add(services: Services, journal: LessonJournal, update: Update,
               args: list[str]) -> None:
    if not is_approver(services.settings, user_id(update)):
        await reply(services, update, esc(NOT_APPROVER))
        return
    draft = await _manual_draft(services, args)
    if isinstance(draft, str):
        await reply(services, update, esc(draft))
        return
    async with services.work.atomic():  # the lesson and its "Recorded" reply, as one
        lesson_id = await journal.record(draft)
        if lesson_id is None:
            text = view.OFF if not journal.enabled else view.UNAVAILABLE
            await reply(services, update, esc(text))
            return
        await reply(services, update, f"Recorded lesson <b>#{lesson_id}</b> "
                                      f"({esc(draft.lesson_type)}) on "
                                      f"{esc(draft.work_item or '')}.")


async def _manual_draft(services: Services, args: list[str]) -> LessonDraft | str:
    """The draft for `/lesson add`, with repo and task filled in when KEY is a task."""
    if len(args) < 3:
        return ADD_USAGE
    kind, key, text = args[0].lower(), args[1].upper(), " ".join(args[2:]).strip()
    if not LESSON_TYPE.match(kind) or not WORK_ITEM.match(key):
        return f"That type or key is not valid. {ADD_USAGE}"
    if len(text) > TEXT_LIMIT:
        return f"The text is {len(text)} characters; keep it to {TEXT_LIMIT}."
    try:
        task = await services.pipeline.find(key)
    except DomainError as exc:
        return str(exc)  # "Unknown task NOPE-1": a typo would file the lesson nowhere
    return LessonDraft(kind, Source.MANUAL, work_item=key, root_cause=text,
                       task_id=task.id, repo=task.repo)


async def _apply(services: Services, journal: LessonJournal, query: CallbackQuery,
                 data: ButtonData) -> None:
    message = query.message
    shown = message.message_id if message is not None else None
    async with services.work.atomic():  # the change and "this card shows it now", as one
        changed = await journal.update(data.object_id, _change_for(data.action),
                                       expected_version=data.version)
        current = await journal.find(data.object_id)
        if current is not None and shown is not None:
            # this card is edited to the new version below; every other copy of it loses
            # its buttons (they act on a version that is gone)
            await services.notifier.lesson_shown(current.id, current.version, shown)
    if current is None:
        await answer(query, view.OFF if not journal.enabled else "That lesson is not there.")
        return
    await answer(query, _done(current) if changed else STALE)
    await _edit_card(services, query, current)


def _done(lesson: Lesson) -> str:
    attribution = f", attributed to {lesson.attribution}" if lesson.attribution else ""
    return f"Lesson #{lesson.id}: {lesson.status}{attribution}."


def _change_for(action: Action) -> LessonUpdate:
    if action in view.ATTRIBUTE_ACTIONS:
        return LessonUpdate(attribution=view.ATTRIBUTE_ACTIONS[action])
    status = {Action.CLOSE: LessonStatus.CLOSED, Action.IN_PROGRESS: LessonStatus.IN_PROGRESS}
    return LessonUpdate(status=status.get(action))  # empty for other actions: refused


async def _edit_card(services: Services, query: CallbackQuery, lesson: Lesson) -> None:
    """The lesson card shows its current state: an edit row, sent within the budget."""
    message = query.message
    if message is None or message.chat.id != services.settings.telegram_chat_id:
        return
    await services.notifier.edit_later(
        message.message_id, view.lesson_card(lesson, services.clock.now()),
        markup_json(view.lesson_keyboard(lesson, services.codec)))
