"""Inline keyboards fitting a task's stage."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import Action, ButtonCodec, ButtonData, Namespace
from core.pipeline.stages import BLOCKED, TERMINAL, Pipeline
from core.pipeline.tasks import Task

LABELS = {
    Action.APPROVE: "Approve",
    Action.UNBLOCK: "Unblock",
    Action.CANCEL: "Cancel",
    Action.RETRY: "Retry",
}


def task_actions(task: Task, pipeline: Pipeline, *, failed: bool = False) -> list[Action]:
    """The buttons a task's card offers in its current stage (`failed`: its work failed)."""
    if task.stage in TERMINAL:
        return []
    if task.stage == BLOCKED:
        return [Action.RETRY, Action.CANCEL] if failed else [Action.UNBLOCK, Action.CANCEL]
    if task.stage in pipeline.order and pipeline.spec(task.stage).needs_approval:
        return [Action.APPROVE, Action.CANCEL]
    return [Action.CANCEL]


def task_keyboard(task: Task, pipeline: Pipeline, codec: ButtonCodec,
                  actions: list[Action] | None = None, *,
                  failed: bool = False) -> InlineKeyboardMarkup | None:
    chosen = task_actions(task, pipeline, failed=failed) if actions is None else actions
    if not chosen:
        return None
    buttons = [
        InlineKeyboardButton(LABELS[action], callback_data=codec.encode(
            ButtonData(Namespace.TASK, action, task.id, task.version)))
        for action in chosen
    ]
    return InlineKeyboardMarkup([buttons])
