"""The running process: database, services, Telegram, the notifier loop, scheduled jobs.

`running(settings, clock)` is used by `orch run`, the demo and the end-to-end tests,
so they all exercise the same wiring. One asyncio loop; background work is owned here.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram.ext import Application

from app.http_api import build_http_app
from app.http_server import serve_http
from app.plane_sync import (
    PlaneSync,
    build_plane_sync,
    pause_alert_text,
    plane_configured,
    schedule_reconcile,
)
from bot.app import build_telegram, install_handlers
from bot.budget import SendBudget
from bot.callbacks import ButtonCodec
from bot.context import Services
from bot.handlers.basic import COMMANDS
from bot.handlers.sync import confirm_markup
from bot.handlers.sync import handlers as sync_buttons
from bot.notifier import TelegramNotifier
from core.clock import Clock
from core.config import Settings
from core.deps.service import DependencyCycle, DependencyService
from core.errors import OrchError
from core.integrations.agents.runner import SubprocessAgentRunner
from core.integrations.git.workspace import GitWorkspace
from core.integrations.git.worktrees import GitWorktrees
from core.jobs.engine import StageEngine
from core.jobs.loop import JobLoop
from core.jobs.view import JobQueueView
from core.lessons.journal import LessonJournal
from core.pipeline.service import PipelineService
from core.ports import NotifierHub
from core.queue_view import QueueService
from storage.cards import CardStore, CursorStore
from storage.database import Database
from storage.dependencies import SqliteDependencyStore
from storage.jobs import SqliteJobStore
from storage.lessons import SqliteLessonStore
from storage.tasks import SqliteTaskStore

log = logging.getLogger(__name__)


@dataclass
class Supervisor:
    """Owns background tasks: keeps references, logs crashes, cancels them on stop."""

    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        task.add_done_callback(_report)
        self.tasks.append(task)
        return task

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()


def _report(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s died", task.get_name(), exc_info=task.exception())


@dataclass
class Orch:
    """Every part of a running orch, for the CLI, the demo and tests to reach."""

    settings: Settings
    clock: Clock
    db: Database
    tasks: SqliteTaskStore
    hub: NotifierHub
    pipeline: PipelineService
    queue: QueueService
    app: Application
    notifier: TelegramNotifier
    services: Services
    lessons: LessonJournal
    deps: DependencyService
    engine: StageEngine
    loop: JobLoop
    plane: PlaneSync | None
    supervisor: Supervisor


async def assemble(settings: Settings, clock: Clock) -> Orch:
    """Open the database and build every service; nothing talks to the outside yet."""
    db = await Database.open(settings.db_path)
    tasks = SqliteTaskStore(db)
    hub = NotifierHub()
    pipeline = PipelineService(tasks, settings.pipeline, clock, hub,
                               key_prefix=settings.task_key_prefix)
    queue = QueueService(pipeline, settings.pipeline, clock)
    app = build_telegram(settings.telegram_token, settings.telegram_api_url,
                         rate_limiter=settings.telegram_rate_limiter)
    codec = ButtonCodec(settings.telegram_token)
    notifier = _notifier(settings, clock, db, tasks, app, codec)
    hub.subscribe(notifier)
    journal = LessonJournal.from_settings(SqliteLessonStore(db), clock, settings)
    deps = DependencyService(
        SqliteDependencyStore(db), pipeline, hub, clock, enabled=settings.task_deps_enabled,
        on_cycle=lambda cycle: notifier.alert(_cycle_alert(cycle)),
        on_waits_changed=notifier.refresh)
    engine, loop = _work(settings, clock, db, pipeline, journal, deps)
    hub.subscribe(engine)
    _observe(queue, notifier, journal, deps, JobQueueView(SqliteJobStore(db), settings, clock))
    services = Services(settings, clock, pipeline, queue, notifier, codec, journal, deps, engine)
    install_handlers(app, services)
    plane = _plane(settings, clock, db, pipeline, hub, queue, deps, notifier, codec)
    if plane is not None:
        app.add_handlers(sync_buttons(services, plane.reconciler.confirm_pause))
    return Orch(settings, clock, db, tasks, hub, pipeline, queue, app, notifier, services,
                journal, deps, engine, loop, plane, Supervisor())


def _plane(settings: Settings, clock: Clock, db: Database, pipeline: PipelineService,
           hub: NotifierHub, queue: QueueService, deps: DependencyService,
           notifier: TelegramNotifier, codec: ButtonCodec) -> PlaneSync | None:
    """The Plane sync, when configured: card notes, refreshes and its alert in the chat."""
    if not plane_configured(settings):
        return None
    sync = build_plane_sync(
        settings, clock, db, pipeline, hub, queue, dependencies=deps,
        refresh_card=notifier.refresh,
        alert=lambda pause: notifier.alert(pause_alert_text(pause),
                                           confirm_markup(codec, pause)))
    notifier.add_card_note(sync.reconciler.card_note)
    return sync


def _notifier(settings: Settings, clock: Clock, db: Database, tasks: SqliteTaskStore,
              app: Application, codec: ButtonCodec) -> TelegramNotifier:
    return TelegramNotifier(
        bot=app.bot, chat_id=settings.telegram_chat_id, tasks=tasks, cards=CardStore(db),
        cursors=CursorStore(db), pipeline=settings.pipeline, clock=clock, codec=codec,
        budget=SendBudget(clock, per_minute=settings.group_messages_per_minute))


def _work(settings: Settings, clock: Clock, db: Database, pipeline: PipelineService,
          journal: LessonJournal, deps: DependencyService) -> tuple[StageEngine, JobLoop]:
    """The stage engine and the job loop that feeds it agent runs."""
    jobs = SqliteJobStore(db)
    engine = StageEngine(pipeline, jobs, settings, clock, lessons=journal,
                         on_gate_failure=journal.on_gate_failure,
                         on_retries_spent=journal.on_retries_spent)
    worktrees = GitWorktrees(GitWorkspace(Path(settings.repos_dir)), settings.repo_remotes)
    loop = JobLoop(runs=jobs, engine=engine, pipeline=pipeline,
                   runner=SubprocessAgentRunner(clock), worktrees=worktrees,
                   settings=settings, clock=clock, deps=deps)
    return engine, loop


def _observe(queue: QueueService, notifier: TelegramNotifier, journal: LessonJournal,
             deps: DependencyService, jobs: JobQueueView) -> None:
    """What /queue and the cards show beyond the tasks themselves."""
    for source in (jobs, notifier, journal):
        queue.add_source(source)
    queue.add_explainer(jobs)
    queue.add_explainer(deps)  # last: "waits for ORCH-3" says more than "#4 in line"
    notifier.add_card_note(deps.card_note)


def _cycle_alert(cycle: DependencyCycle) -> str:
    return (f"🔁 Dependency cycle: {html.escape(cycle.spelled)}. Every task on it is "
            f"blocked until someone removes a dependency (/undepend).")


@asynccontextmanager
async def running(settings: Settings, clock: Clock, *, poll_timeout: int = 10,
                  ) -> AsyncIterator[Orch]:
    """Start orch inside the current loop; stops everything cleanly on exit."""
    orch = await assemble(settings, clock)
    try:
        await _check_keys(orch)
        async with orch.app:
            await orch.app.bot.set_my_commands(COMMANDS)
            await orch.notifier.resume()
            orch.supervisor.spawn(orch.notifier.run(), "notifier")
            await orch.app.start()
            if settings.jobs_enabled:
                orch.supervisor.spawn(orch.loop.run(settings.job_poll_interval_s), "jobs")
            _start_plane(orch)
            assert orch.app.updater is not None
            await orch.app.updater.start_polling(timeout=poll_timeout, poll_interval=0.0)
            try:
                async with _http(orch):
                    yield orch
            finally:
                await orch.app.updater.stop()
                await orch.app.stop()
                await orch.supervisor.stop()
    finally:
        if orch.plane:
            await orch.plane.aclose()
        await orch.db.close()


async def _check_keys(orch: Orch) -> None:
    """Refuse to start when `/new` keys would collide with a followed project's keys."""
    if orch.plane is None:
        return
    try:
        projects = await orch.plane.client.projects()
    except OrchError as exc:  # Plane down at start-up: the sync will say so; start anyway
        log.warning("could not list Plane projects at start-up: %s", exc)
        return
    orch.plane.reconciler.config.check_key_prefix(orch.settings.task_key_prefix, projects)


def _start_plane(orch: Orch) -> None:
    """The reconcile tick on PTB's JobQueue; hints and write-backs in an owned task."""
    if orch.plane is None:
        return
    orch.supervisor.spawn(orch.plane.reconciler.run(), "plane-sync")
    if orch.settings.reconcile_interval_s > 0:
        schedule_reconcile(orch.app, orch.plane, orch.settings.reconcile_interval_s)


@asynccontextmanager
async def _http(orch: Orch) -> AsyncIterator[None]:
    """The HTTP face (health, API, webhooks) when ORCH_HTTP_PORT is set."""
    settings = orch.settings
    if not settings.http_port:
        yield
        return
    routes = orch.plane.routes() if orch.plane else ()
    app = build_http_app(lessons=orch.lessons, queue=orch.queue, api_token=settings.api_token,
                         extra_routes=routes)
    async with serve_http(app, settings.http_port):
        yield
