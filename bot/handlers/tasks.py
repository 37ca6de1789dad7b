"""/task KEY and /new REPO TITLE."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, ContextTypes

from bot import render
from bot.auth import NOT_APPROVER, is_approver
from bot.context import Services, actor_of, user_id
from bot.replies import reply
from core.errors import DomainError
from core.pipeline.progress import finished_stages

KEY = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,9}-\d{1,30}$")  # too big a number: unknown, not usage
QUOTES = {'"': '"', "'": "'", "“": "”", "«": "»", "„": "“"}
REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
TASK_USAGE = "Usage: /task KEY, for example /task ORCH-12"
NEW_USAGE = "Usage: /new REPO TITLE, for example /new api Add retry to the webhook sender"
TITLE_MAX = 200


def handlers(services: Services) -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
    async def task(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The task as its card shows it, with a link to that one card: a copy without
        buttons, so no untracked message ever offers a stale action."""
        args = context.args or []
        if len(args) != 1 or not KEY.match(args[0]):
            await reply(services, update, render.esc(TASK_USAGE))
            return
        try:
            found = await services.pipeline.find(args[0])
        except DomainError as exc:
            await reply(services, update, render.esc(str(exc)))
            return
        stages = services.pipeline.stages
        finished = finished_stages(await services.pipeline.history(found.id), stages)
        text = render.card(found, stages, services.clock.now(), finished=finished)
        card = await services.notifier.card_of(found.id)
        if card is None:
            services.notifier.refresh(found.id)
            text += "\n<i>Its card is on its way.</i>"
        else:
            link = card_link(services.settings.telegram_chat_id, card.message_id)
            text += f'\n<a href="{link}">↑ its card, with the buttons</a>'
        await reply(services, update, text)

    async def new(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Puts a task into the pipeline by hand (approvers only)."""
        if not is_approver(services.settings, user_id(update)):
            await reply(services, update, render.esc(NOT_APPROVER))
            return
        parsed = _parse_new(context.args or [])
        if isinstance(parsed, str):
            await reply(services, update, render.esc(parsed))
            return
        repo, title = parsed
        async with services.work.atomic():  # the task and its "Created" reply: both or none
            try:
                created = await services.pipeline.create(repo, title,
                                                         actor_of(update.effective_user))
            except DomainError as exc:
                await reply(services, update, render.esc(str(exc)))
                return
            await reply(services, update, f"Created <b>{render.esc(created.key)}</b> in "
                                          f"{render.esc(repo)}; its card follows.")

    return [CommandHandler("task", task), CommandHandler("new", new)]


def card_link(chat_id: int, message_id: int) -> str:
    """A t.me link to a message in a supergroup (ids -100…); other chats have none."""
    internal = str(chat_id).removeprefix("-100")
    return f"https://t.me/c/{internal}/{message_id}"


def _parse_new(args: list[str]) -> tuple[str, str] | str:
    """(repo, title), or the text explaining what is wrong."""
    if len(args) < 2:
        return NEW_USAGE
    repo, title = args[0], _unquoted(" ".join(args[1:]).strip())
    if not REPO.match(repo):
        return f"That repository name is not valid. {NEW_USAGE}"
    if len(title) > TITLE_MAX:
        return f"The title is {len(title)} characters; keep it to {TITLE_MAX}."
    if not title:
        return NEW_USAGE
    return repo, title


def _unquoted(title: str) -> str:
    """The title without one pair of quotes around all of it: /new api "Add retry"."""
    if len(title) >= 2 and QUOTES.get(title[0]) == title[-1]:
        return title[1:-1].strip()
    return title
