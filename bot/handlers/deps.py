"""/deps KEY, /depend B on A and /undepend B on A."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, ContextTypes

from bot import render
from bot.auth import NOT_APPROVER, is_approver
from bot.context import Services, user_id
from bot.handlers.tasks import KEY
from bot.replies import reply
from core.deps.service import LOCAL, DepLink, DepsView
from core.errors import DomainError

DEPS_USAGE = "Usage: /deps KEY, for example /deps ORCH-12"
DEPEND_USAGE = "Usage: /{command} B on A, for example /{command} ORCH-12 on ORCH-7"


def handlers(services: Services) -> list[BaseHandler[Update, ContextTypes.DEFAULT_TYPE, None]]:
    async def deps(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """What a task waits for, and who waits for it."""
        args = context.args or []
        if len(args) != 1 or not KEY.match(args[0]):
            await reply(services, update, render.esc(DEPS_USAGE))
            return
        try:
            view = await services.deps.links(args[0])
        except DomainError as exc:
            await reply(services, update, render.esc(str(exc)))
            return
        await reply(services, update, render_deps(view))

    async def depend(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """B depends on A from now on (approvers only)."""
        pair = await _pair(services, update, context, "depend")
        if pair is None:
            return
        async with services.work.atomic():  # the wait and the reply that reports it
            try:
                declared = await services.deps.declare(*pair)
            except DomainError as exc:
                await reply(services, update, render.esc(str(exc)))
                return
            text = f"{pair[0].upper()} waits for {pair[1].upper()}."
            if not declared.added:
                text = f"{pair[0].upper()} already waits for {pair[1].upper()}."
            if declared.cycle is not None:
                text += (f" That closes a cycle ({declared.cycle.spelled}): its tasks are "
                         f"blocked.")
            await reply(services, update, render.esc(text))

    async def undepend(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """B no longer depends on A (approvers only)."""
        pair = await _pair(services, update, context, "undepend")
        if pair is None:
            return
        async with services.work.atomic():
            try:
                removed = await services.deps.remove(*pair)
            except DomainError as exc:
                await reply(services, update, render.esc(str(exc)))
                return
            b, a = (k.upper() for k in pair)
            text = f"{b} no longer waits for {a}." if removed else f"{b} did not wait for {a}."
            await reply(services, update, render.esc(text))

    return [CommandHandler("deps", deps), CommandHandler("depend", depend),
            CommandHandler("undepend", undepend)]


async def _pair(services: Services, update: Update, context: ContextTypes.DEFAULT_TYPE,
                command: str) -> tuple[str, str] | None:
    """(B, A) from `B on A`, or None after replying what is wrong."""
    if not is_approver(services.settings, user_id(update)):
        await reply(services, update, render.esc(NOT_APPROVER))
        return None
    args = context.args or []
    if len(args) != 3 or args[1].lower() != "on" or not (KEY.match(args[0])
                                                          and KEY.match(args[2])):
        await reply(services, update, render.esc(DEPEND_USAGE.format(command=command)))
        return None
    return args[0], args[2]


def render_deps(view: DepsView) -> str:
    lines = [f"<b>{render.esc(view.task.key)}</b> · {render.esc(view.task.stage)}"]
    lines.append("waits for: " + _links(view.depends_on))
    lines.append("needed by: " + _links(view.dependents))
    return "\n".join(lines)


def _links(links: tuple[DepLink, ...]) -> str:
    if not links:
        return "nothing"
    shown = [f"{render.esc(link.key)} ({render.esc(link.stage)}"
             + _source(link.source) for link in links[:40]]
    more = f" and {len(links) - 40} more" if len(links) > 40 else ""
    return ", ".join(shown) + more


def _source(source: str) -> str:
    """Where an edge came from, when not the chat: a tracker, by its name."""
    return ")" if source == LOCAL else f", from {render.esc(source.capitalize())})"
