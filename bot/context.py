"""The services handlers reach, passed in explicitly (never looked up in bot_data)."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update, User

from bot.callbacks import ButtonCodec
from core.chat.courier import Courier
from core.clock import Clock
from core.config import Settings
from core.deps.service import DependencyService
from core.jobs.engine import StageEngine
from core.lessons.journal import LessonJournal
from core.pipeline.service import PipelineService
from core.pipeline.tasks import Actor
from core.ports import UnitOfWork
from core.queue_view import QueueService


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    pipeline: PipelineService
    queue: QueueService
    notifier: Courier
    codec: ButtonCodec
    lessons: LessonJournal
    deps: DependencyService
    engine: StageEngine
    work: UnitOfWork  # a change and the reply that reports it, as one write


def actor_of(user: User | None) -> Actor:
    """The audit-trail identity of a Telegram user."""
    if user is None:
        return Actor("telegram", "unknown")
    display = f"@{user.username}" if user.username else user.full_name
    return Actor("telegram", str(user.id), display)


def user_id(update: Update) -> int | None:
    return update.effective_user.id if update.effective_user else None
