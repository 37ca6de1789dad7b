"""The services handlers reach, passed in explicitly (never looked up in bot_data)."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update, User

from bot.callbacks import ButtonCodec
from bot.notifier import TelegramNotifier
from core.clock import Clock
from core.config import Settings
from core.dependencies import DependencyService
from core.lessons import LessonJournal
from core.pipeline_service import PipelineService
from core.queue_view import QueueService
from core.stage_engine import StageEngine
from core.tasks import Actor


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    pipeline: PipelineService
    queue: QueueService
    notifier: TelegramNotifier
    codec: ButtonCodec
    lessons: LessonJournal
    deps: DependencyService
    engine: StageEngine


def actor_of(user: User | None) -> Actor:
    """The audit-trail identity of a Telegram user."""
    if user is None:
        return Actor("telegram", "unknown")
    display = f"@{user.username}" if user.username else user.full_name
    return Actor("telegram", str(user.id), display)


def user_id(update: Update) -> int | None:
    return update.effective_user.id if update.effective_user else None
