"""The running process: database, services, Telegram, the chat courier, scheduled jobs.

`running(settings, clock)` is used by `orch run`, the demo and the end-to-end tests,
so they all exercise the same wiring. One asyncio loop; background work is owned here.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram.ext import Application

from app.body_limit import BodyLimit
from app.http_api import build_http_app
from app.http_server import serve_http
from app.merge_wiring import MergeWiring, build_merge, forge_configured, settings_for_merge
from app.operations import Operations, build_operations, notifier_figures
from app.queue_summary import build_queue
from app.scheduler import scheduler_of
from app.startup import StartupProgress, connect_telegram, open_database
from app.telegram_webhook import Deliver, TelegramWebhook
from app.tracker_sync import (
    TrackerSync,
    build_tracker_sync,
    pace_tracker,
    tell_the_chat,
    tracker_configured,
)
from bot.app import build_telegram, install_handlers
from bot.callbacks import ButtonCodec
from bot.chat_render import TelegramRenderer
from bot.chat_sender import TelegramChatSender
from bot.context import Services
from bot.handlers.basic import COMMANDS
from bot.poller import handler_for, lanes_for, poll
from bot.telemetry import TelegramCalls
from core.chat.courier import Courier
from core.chat.inbox import Inbox
from core.clock import Clock
from core.config import Settings
from core.deps.service import DependencyCycle, DependencyService
from core.errors import OrchError
from core.instance.lease import InstanceLease
from core.integrations.agents.processes import OrphanReaper
from core.integrations.agents.runner import SubprocessAgentRunner
from core.integrations.git.workspace import GitWorkspace
from core.integrations.git.worktrees import GitWorktrees
from core.jobs.budget import Budget, TaskBudget
from core.jobs.config import JobsConfig
from core.jobs.effort import EffortView
from core.jobs.engine import StageEngine
from core.jobs.gates import QG_CHECKS, GateCheck
from core.jobs.loop import JobLoop, make_owner, owner_alive
from core.lessons.config import LessonsConfig
from core.lessons.journal import LessonJournal
from core.pacer import Pacer
from core.pipeline.service import PipelineService
from core.ports import NotifierHub
from core.queue_view import QueueService
from core.settings.checks import validate
from core.settings.reload import ConfigReloader
from storage.chat_inbox import SqliteInbox
from storage.chat_outbox import SqliteCards, SqliteOutbox
from storage.database import Database
from storage.dependencies import SqliteDependencyStore
from storage.instance import SqliteLeaseStore
from storage.jobs import SqliteJobStore
from storage.lessons import SqliteLessonStore
from storage.runs import SqliteRunLedger
from storage.tasks import SqliteTaskStore

log = logging.getLogger(__name__)

KEY_CHECK_TIMEOUT_S = 5.0  # a tracker that hangs at start-up does not hold orch back


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
    notifier: Courier
    inbox: Inbox
    services: Services
    lessons: LessonJournal
    deps: DependencyService
    engine: StageEngine
    loop: JobLoop
    tracker: TrackerSync | None
    supervisor: Supervisor
    ops: Operations | None = None  # metrics and readiness
    lease: InstanceLease | None = None  # one orch per database
    startup: StartupProgress = field(default_factory=StartupProgress)
    http_url: str | None = None  # where the HTTP face listens, once it does
    # set when orch can no longer go on (its lease was taken): the CLI then exits 1
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    merge: MergeWiring | None = None  # the merge gate, when a forge is configured
    poller: asyncio.Task[Any] | None = None  # getUpdates into the inbox
    webhook: TelegramWebhook | None = None  # or Telegram POSTs updates into the inbox
    effort: EffortView | None = None  # what runs cost: cards, /queue, /api/runs
    pacers: list[Pacer] = field(default_factory=list)  # the background loops, once started
    reloader: ConfigReloader | None = None  # ORCH_CONFIG reloaded while orch runs


async def assemble(settings: Settings, clock: Clock) -> Orch:
    """Open the database and build every service; nothing talks to the outside yet."""
    if forge_configured(settings):
        settings = settings_for_merge(settings)  # the merge stage runs the merge gate
    db = await open_database(settings.db_path)
    try:
        return _build(settings, clock, db)
    except BaseException:
        await db.close()
        raise


def _build(settings: Settings, clock: Clock, db: Database) -> Orch:
    tasks = SqliteTaskStore(db)
    hub = NotifierHub()
    pipeline = PipelineService(tasks, settings.pipeline, clock, hub,
                               key_prefix=settings.task_key_prefix)
    calls = TelegramCalls(clock)
    app = build_telegram(settings.telegram_token, settings.telegram_api_url,
                         rate_limiter=settings.telegram_rate_limiter, calls=calls)
    codec = ButtonCodec(settings.telegram_token)
    renderer = TelegramRenderer(pipeline, codec, clock)
    notifier = _courier(settings, clock, db, tasks, app, renderer)
    hub.subscribe(notifier)
    journal = LessonJournal.from_config(SqliteLessonStore(db), clock,
                                     LessonsConfig.from_settings(settings))
    deps = DependencyService(
        SqliteDependencyStore(db), pipeline, clock, enabled=settings.task_deps_enabled,
        on_cycle=lambda cycle: notifier.alert(_cycle_alert(cycle)),
        on_waits_changed=notifier.refresh)
    # one workspace: its per-repository lock keeps the job loop's and the merge gate's git
    # apart in a clone they share (git's own locks would fail one of them instead)
    workspace = GitWorkspace(Path(settings.repos_dir))
    merge = (build_merge(settings, clock, db, pipeline, journal, workspace=workspace)
             if forge_configured(settings) else None)
    engine, loop = _work(settings, clock, db, pipeline, journal, deps,
                         merge.checks if merge else {}, notifier, workspace)
    hub.subscribe(engine)
    hub.subscribe(loop.watch)  # runs follow their task, whoever moved it
    queue = build_queue(settings, clock, db, pipeline, journal, deps, live=(notifier,))
    renderer.add_card_note(queue.why)  # the card gives the same one reason as /queue
    effort = EffortView(SqliteRunLedger(db), clock)
    queue.add_source(effort, name="effort", watches=("runs",))
    renderer.add_card_note(effort.card_note)  # why the last run stopped; what runs cost
    if merge is not None:
        _merge_hooks(merge, hub, engine, queue, notifier, renderer)
    services = Services(settings, clock, pipeline, queue, notifier, codec, journal, deps, engine,
                        db)
    tracker = (build_tracker_sync(settings, clock, db, pipeline, hub, queue, dependencies=deps)
               if tracker_configured(settings) else None)
    buttons = tell_the_chat(tracker, services, renderer) if tracker is not None else []
    install_handlers(app, services, extra=buttons)
    inbox = Inbox(SqliteInbox(db), handler_for(app), lanes_for(pipeline, codec), clock)
    ops = build_operations(settings, clock, db, calls, notifier_figures(notifier), queue,
                           tracker)
    orch = Orch(settings, clock, db, tasks, hub, pipeline, queue, app, notifier, inbox,
                services, journal, deps, engine, loop, tracker, Supervisor(), ops,
                _lease(settings, clock, db, loop.owner))
    ops.readiness.add("start-up", orch.startup.probe)
    orch.merge = merge
    orch.effort = effort
    if settings.telegram_webhook_url:
        orch.webhook = TelegramWebhook(settings.telegram_webhook_url)
    if settings.config_path:
        orch.reloader = _reloader(settings, pipeline, engine, loop, notifier, orch.supervisor)
    return orch


def _lease(settings: Settings, clock: Clock, db: Database, owner: str) -> InstanceLease:
    """One orch per database; the lease's holder id is the job loop's owner id."""
    host, pid = owner.split(":")[:2]
    return InstanceLease(SqliteLeaseStore(db), clock, holder=owner, host=host, pid=int(pid),
                         db_path=settings.db_path, is_alive=owner_alive)


def _courier(settings: Settings, clock: Clock, db: Database, tasks: SqliteTaskStore,
             app: Application, renderer: TelegramRenderer) -> Courier:
    """The one sender of everything said in the group, within one budget."""
    sender = TelegramChatSender(app.bot, settings.telegram_chat_id)
    return Courier(outbox=SqliteOutbox(db), cards=SqliteCards(db), tasks=tasks,
                   renderer=renderer, sender=sender, clock=clock,
                   per_minute=settings.group_messages_per_minute)


def _work(settings: Settings, clock: Clock, db: Database, pipeline: PipelineService,
          journal: LessonJournal, deps: DependencyService,
          forge_checks: dict[str, GateCheck], notifier: Courier, workspace: GitWorkspace,
          ) -> tuple[StageEngine, JobLoop]:
    """The stage engine and the job loop that feeds it agent runs."""
    jobs = SqliteJobStore(db)
    budget = TaskBudget(SqliteRunLedger(db), Budget(settings.budget_tokens, settings.budget_cost))
    config = JobsConfig.from_settings(settings)
    engine = StageEngine(pipeline, jobs, config, clock, lessons=journal,
                         on_gate_failure=journal.on_gate_failure,
                         on_retries_spent=journal.on_retries_spent,
                         checks={**QG_CHECKS, **forge_checks}, budget=budget)
    worktrees = GitWorktrees(workspace, settings.repo_remotes)
    runner = SubprocessAgentRunner(clock, result_cap_bytes=settings.agent_result_max_bytes,
                                   env_names=settings.agent_env, ledger=jobs)
    loop = JobLoop(runs=jobs, engine=engine, pipeline=pipeline, runner=runner,
                   worktrees=worktrees, config=config, clock=clock, deps=deps,
                   owner=make_owner(), reaper=OrphanReaper(jobs),
                   on_run_ended=notifier.refresh)
    return engine, loop


def _reloader(settings: Settings, pipeline: PipelineService, engine: StageEngine,
              loop: JobLoop, notifier: Courier, supervisor: Supervisor) -> ConfigReloader:
    """ORCH_CONFIG edits reach the engine, the job loop and the pipeline's gates."""
    def apply(new: Settings) -> None:
        config = JobsConfig.from_settings(new)
        engine.reconfigure(config)
        pipeline.stages = new.pipeline  # same stages; which of them need a person may differ
        loop.reconfigure(config)

    def alert(text: str) -> None:  # the courier's alert is a row written in SQLite
        supervisor.spawn(notifier.alert(html.escape(text)), "config-alert")

    return ConfigReloader(settings, apply=apply, validate=validate, alert=alert)


def _checked(reloader: ConfigReloader) -> Callable[[], Awaitable[None]]:
    async def step() -> None:
        reloader.check()
    return step


def _merge_hooks(merge: MergeWiring, hub: NotifierHub, engine: StageEngine,
                 queue: QueueService, notifier: Courier, renderer: TelegramRenderer) -> None:
    """The merge worker hears every change, wakes the engine after a merge, and says on
    cards and in /queue who holds which lease and which PR a task lives in."""
    worker = merge.worker
    hub.subscribe(worker)
    worker.on_merged = engine.touch
    worker.on_waits_changed = notifier.refresh
    queue.add_source(worker, name="merge lease", watches=("merge",))
    queue.add_explainer(worker, watches=("merge",))
    renderer.add_card_note(worker.card_note)  # the PR link; the wait comes with queue.why


def _cycle_alert(cycle: DependencyCycle) -> str:
    return (f"🔁 Dependency cycle: {html.escape(cycle.spelled)}. Every task on it is "
            f"blocked until someone removes a dependency (/undepend).")


@asynccontextmanager
async def running(settings: Settings, clock: Clock, *, poll_timeout: int = 10,
                  ) -> AsyncIterator[Orch]:
    """Start orch inside the current loop; stops everything cleanly on exit.

    In order: the database (ConfigError if unusable), its lease (LeaseHeld if another
    orch holds it), the HTTP face (so /readyz can tell), Telegram (ConfigError for a
    refused token; retried while unreachable), then the work.
    """
    orch = await assemble(settings, clock)
    assert orch.lease is not None
    try:
        await orch.lease.acquire()
        orch.supervisor.spawn(_keep_lease(orch), "lease")
        async with _http(orch):
            try:
                await connect_telegram(orch.app.bot, orch.startup, clock)
                async with orch.app:
                    try:  # a stop may arrive while starting: _stop undoes what started
                        await _start(orch, poll_timeout)
                        orch.startup.done()
                        yield orch
                    finally:
                        await _stop(orch)
            finally:
                await orch.app.bot.shutdown()
    finally:
        await orch.supervisor.stop()
        await _close(orch)


async def _start(orch: Orch, poll_timeout: int) -> None:
    await _check_keys(orch)
    await orch.app.bot.set_my_commands(COMMANDS)
    await orch.notifier.resume()
    orch.supervisor.spawn(orch.notifier.run(), "courier")
    await orch.app.start()
    _pace(orch)
    await orch.inbox.resume()  # what a crash left unhandled, in order
    if orch.webhook is not None:  # the HTTP face listens already: Telegram sends at once
        await orch.webhook.register(orch.app.bot)
        return
    orch.poller = orch.supervisor.spawn(
        poll(orch.app, orch.inbox, orch.clock, poll_s=poll_timeout), "telegram-poll")


async def _stop(orch: Orch) -> None:
    for pacer in orch.pacers:
        pacer.stop()  # a step hanging on a peer (the tracker) must not hold the shutdown
    if orch.poller is not None:
        orch.poller.cancel()
    await _finish_updates(orch.inbox)
    if orch.app.running:  # a stop may arrive while orch is still starting
        await orch.app.stop()  # the scheduler stops with it: no step starts after
    await orch.supervisor.stop()
    await orch.loop.stop()  # running agents stop; their runs stay for the next sweep


def _into(inbox: Inbox) -> Deliver:
    """A webhook's update goes where polled ones go: stored in the inbox, then handled."""

    async def deliver(update: dict[str, Any]) -> None:
        await inbox.receive([update])

    return deliver


async def _finish_updates(inbox: Inbox, within_s: float = 5.0) -> None:
    """Let handlers in flight finish; what does not is handled again after the restart."""
    try:
        await asyncio.wait_for(inbox.drain(), within_s)
    except TimeoutError:
        await inbox.aclose()


async def _close(orch: Orch) -> None:
    if orch.lease is not None:
        try:
            await orch.lease.release()
        except Exception:
            log.exception("could not release the database lease")  # it expires on its own
    if orch.tracker:
        await orch.tracker.aclose()
    if orch.merge:
        await orch.merge.aclose()
    await orch.queue.cache.aclose()
    await orch.db.close()


async def _keep_lease(orch: Orch) -> None:
    assert orch.lease is not None
    try:
        await orch.lease.keep()
    except OrchError as exc:
        log.error("stopping: %s", exc)
        orch.lost.set()


async def _check_keys(orch: Orch) -> None:
    """Refuse to start (ConfigError, exit 2) when `/new` keys would collide with a
    followed project's keys; a tracker that cannot be reached now is checked no further."""
    if orch.tracker is None:
        return
    try:
        projects = await asyncio.wait_for(orch.tracker.connection.client.projects(),
                                          KEY_CHECK_TIMEOUT_S)
    except (OrchError, TimeoutError) as exc:
        log.warning("could not list the %s projects at start-up (%s); the task key prefix "
                    "is checked against ORCH_PLANE_PROJECTS only", orch.tracker.name,
                    exc or "no answer")
        return
    orch.tracker.reconciler.config.check_key_prefix(orch.settings.task_key_prefix, projects,
                                                    orch.tracker.name)


def _pace(orch: Orch) -> None:
    """The background loops on the one scheduler (PTB's JobQueue): the job loop, paced by
    its poll interval and woken by the engine and finished jobs; the merge gate, woken by
    moves and forge webhooks; the tracker sync."""
    scheduler = scheduler_of(orch.app)
    settings = orch.settings
    if settings.jobs_enabled:
        jobs = Pacer(scheduler, orch.loop.tick, name="jobs",
                     interval_s=settings.job_poll_interval_s, first=orch.loop.start)
        orch.engine.wake = orch.loop.wake = jobs.poke
        orch.pacers.append(jobs)
        jobs.start()
    if orch.merge is not None and settings.jobs_enabled:
        merge = Pacer(scheduler, orch.merge.worker.tick, name="merge-gate",
                      interval_s=settings.merge_poll_interval_s)
        orch.merge.worker.wake = merge.poke
        orch.pacers.append(merge)
        merge.start()
    if orch.reloader is not None:
        reload = Pacer(scheduler, _checked(orch.reloader), name="config-reload",
                       interval_s=orch.reloader.interval_s)
        orch.pacers.append(reload)
        reload.start()
    if orch.tracker is not None:
        on_tick = orch.ops.metrics.observe_tick if orch.ops else None
        orch.pacers += pace_tracker(orch.tracker, scheduler, settings.reconcile_interval_s,
                                    on_tick=on_tick)


@asynccontextmanager
async def _http(orch: Orch) -> AsyncIterator[None]:
    """The HTTP face (health, readiness, API, webhooks) when ORCH_HTTP_PORT is set; every
    request body is bounded by ORCH_HTTP_MAX_BODY_BYTES."""
    settings = orch.settings
    if not settings.http_port:
        yield
        return
    routes = [*(orch.tracker.routes() if orch.tracker else ()),
              *(orch.ops.routes() if orch.ops else ()),
              *(orch.merge.routes() if orch.merge else ()),
              *([orch.webhook.route(_into(orch.inbox))] if orch.webhook else [])]
    app = build_http_app(lessons=orch.lessons, queue=orch.queue, api_token=settings.api_token,
                         extra_routes=routes, runs=orch.effort)
    async with serve_http(BodyLimit(app, settings.http_max_body_bytes), settings.http_port,
                          host=settings.http_host) as url:
        orch.http_url = url
        yield
