"""The job loop: claims runnable jobs and runs their agents, a few at a time.

One `tick()`: sweep stale runs (at start-up and every `sweep_interval_s`), release
tasks whose dependencies are done, let the stage engine act on changed tasks, then
claim jobs while slots are free and start each as an owned asyncio task. A job's task
prepares the worktree, marks the run running, runs the agent and hands the outcome to
the stage engine inside `asyncio.shield`, so a stop arriving then cannot lose it.

A stop (cancellation) while an agent runs stops the agent and leaves its run open, as
a crash would: the next start sweeps it to failed ("orch restarted during the run")
and requeues its job exactly once, after killing the run's recorded process group if it
is still alive on this host (the `reaper`). A run's owner is `host:pid:token`; at a sweep, an
open run of another owner counts as abandoned when that owner is on this host and its
process is gone, or is this very process (an earlier loop: one loop per process), or
when it started longer than `run_stale_after_s` ago.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from core.clock import Clock
from core.config import Settings
from core.deps.service import DependencyService
from core.errors import OrchError
from core.jobs.agents import AgentRequest, AgentResult, RunOutcome, build_prompt
from core.jobs.engine import StageEngine
from core.jobs.model import RESTARTED, Claim, ClaimLimits
from core.jobs.watch import RunControl, RunWatch
from core.pipeline.service import PipelineService
from core.pipeline.tasks import Task
from core.ports import AgentRunner, Reaper, RunStore, Worktrees

log = logging.getLogger(__name__)


@dataclass
class JobLoopTick:
    stalled: int = 0
    swept: int = 0
    released: int = 0
    synced: int = 0
    claimed: int = 0

    @property
    def quiet(self) -> bool:
        return not (self.stalled or self.swept or self.released or self.synced
                    or self.claimed)


@dataclass(frozen=True, slots=True)
class _Unrunnable:
    reason: str


def make_owner() -> str:
    """This loop's owner id: host, process and a token that differs per loop."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_alive(owner: str) -> bool:
    """False when the owner's process is known to be gone; True when it cannot tell."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine: only the age cutoff can tell
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # an earlier loop of this process; there is one loop per process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobLoop:
    """Claims and runs jobs; paced by the runtime (core.pacer.Pacer: `start` once, then
    `tick` every poll interval and whenever `wake` is called), or stepped by tests."""

    def __init__(
        self,
        *,
        runs: RunStore,
        engine: StageEngine,
        pipeline: PipelineService,
        runner: AgentRunner,
        worktrees: Worktrees,
        settings: Settings,
        clock: Clock,
        deps: DependencyService | None = None,
        logs_dir: Path | None = None,
        owner: str | None = None,
        is_alive: Callable[[str], bool] = owner_alive,
        sweep_interval_s: float = 300.0,
        reaper: Reaper | None = None,
        on_run_ended: Callable[[int], None] | None = None,
    ) -> None:
        self._runs = runs
        self._engine = engine
        self._pipeline = pipeline
        self._runner = runner
        self._worktrees = worktrees
        self._settings = settings
        self._clock = clock
        self._deps = deps
        self._logs_dir = logs_dir or Path(settings.repos_dir) / "_logs"
        self.owner = owner or make_owner()
        self._is_alive = is_alive
        self._reaper = reaper
        self._sweep_every = timedelta(seconds=sweep_interval_s)
        self._next_sweep = clock.now()
        self._running: dict[int, asyncio.Task[None]] = {}
        self._settling: set[asyncio.Task[None]] = set()
        self.wake: Callable[[], None] = _nothing  # the runtime's pacer: tick again soon
        self._on_run_ended = on_run_ended
        self.watch = RunWatch(clock, self._stall_timeout)  # subscribe it to the hub
        self.errors = 0

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def reconfigure(self, settings: Settings) -> None:
        """A reloaded configuration: the next claim, run and stall check use it; runs in
        flight go on as they started."""
        self._settings = settings
        self.wake()

    async def start(self) -> None:
        """At start-up: sweep what a dead process left, then let the engine catch up."""
        await self._guard("start-up sweep", self.sweep)
        await self._guard("start-up sync", self._engine.sync_all)

    async def tick(self) -> JobLoopTick:
        """One round; never raises. Jobs it starts keep running after it returns."""
        report = JobLoopTick()
        report.swept = await self._guard("sweep", self._sweep_if_due) or 0
        report.stalled = self.watch.check_stalls()
        report.released = await self._guard("release", self._release) or 0
        report.synced = await self._guard("engine", self._engine.drain) or 0
        report.claimed = await self._guard("claim", self._claim_all) or 0
        return report

    async def run_once(self) -> JobLoopTick:
        """A tick, then wait until every job it started has ended (for tests, the CLI)."""
        report = await self.tick()
        await self.wait_idle()
        return report

    async def settle(self, max_rounds: int = 100) -> int:
        """Run rounds until one changes nothing; the number of rounds that did."""
        for rounds in range(max_rounds):
            if (await self.run_once()).quiet:
                return rounds
        return max_rounds

    async def wait_idle(self) -> None:
        while self._running or self._settling:
            await asyncio.gather(*self._running.values(), *self._settling,
                                 return_exceptions=True)

    async def stop(self) -> None:
        """Cancel running jobs (their runs stay open for the next sweep), wait for every
        outcome already being written."""
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        await asyncio.gather(*self._settling, return_exceptions=True)

    async def sweep(self) -> int:
        """Fail abandoned runs and requeue their jobs; how many runs were swept."""
        now = self._clock.now()
        self._next_sweep = now + self._sweep_every
        owners = await self._runs.open_run_owners()
        dead = [o for o in owners if o != self.owner and not self._is_alive(o)]
        cutoff = now - timedelta(seconds=self._settings.run_stale_after_s)
        if self._reaper is not None:
            # an abandoned agent may still be at work: it dies before its job is requeued
            killed = await self._reaper.reap(owner=self.owner, cutoff=cutoff, dead_owners=dead)
            if killed:
                log.warning("killed %d agent process group(s) left by a dead orch", killed)
        swept = await self._runs.sweep_stale(
            owner=self.owner, cutoff=cutoff, dead_owners=dead, reason=RESTARTED, at=now)
        for item in swept:
            log.warning("run %s swept (%s); job %s requeued: %s",
                        item.run_id, RESTARTED, item.job_id, item.requeued)
            self._engine.touch(item.task_id)
        return len(swept)

    # --- internals -------------------------------------------------------------------

    async def _guard(self, what: str, step: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await step()
        except Exception:
            self.errors += 1
            log.exception("job loop: %s failed; carrying on", what)
            return None

    async def _sweep_if_due(self) -> int:
        now = self._clock.now()
        if now < self._next_sweep:
            return 0
        return await self.sweep()

    async def _release(self) -> int:
        return len(await self._deps.release_ready()) if self._deps is not None else 0

    def _limits(self) -> ClaimLimits:
        s = self._settings
        return ClaimLimits(s.max_concurrency, s.per_repo_concurrency, s.task_deps_enabled,
                           per_stage=s.stage_concurrency, per_role=s.role_concurrency)

    def _stall_timeout(self, role: str) -> float:
        command = self._settings.agents.get(role)
        return command.stall_timeout_s if command else 0.0

    async def _claim_all(self) -> int:
        started = 0
        while len(self._running) < self._settings.max_concurrency:
            claim = await self._runs.claim(self.owner, self._clock.now(), self._limits())
            if claim is None:
                break
            self._launch(claim)
            started += 1
        return started

    def _launch(self, claim: Claim) -> None:
        task = asyncio.get_running_loop().create_task(
            self._work(claim), name=f"orch-job-{claim.job.id}")
        self._running[claim.job.id] = task
        task.add_done_callback(lambda _: self._ended(claim.job.id))

    def _ended(self, job_id: int) -> None:
        self._running.pop(job_id, None)
        self.wake()

    async def _work(self, claim: Claim) -> None:
        job = claim.job
        control = self.watch.register(job.task_id, job.stage, job.role)
        try:
            outcome = await self._execute(claim, control)
        except asyncio.CancelledError:
            raise  # stopped mid-run: the run stays open, as after a crash
        except Exception as exc:
            log.exception("job %s failed inside orch", claim.job.id)
            outcome = self._orch_failure(claim, f"orch failed to run the job: {exc}")
        finally:
            self.watch.release(job.task_id, control)
        settle = asyncio.get_running_loop().create_task(self._settle(claim, outcome))
        self._settling.add(settle)
        settle.add_done_callback(self._settling.discard)
        await asyncio.shield(settle)

    async def _settle(self, claim: Claim, outcome: AgentResult | _Unrunnable) -> None:
        try:
            if isinstance(outcome, _Unrunnable):
                await self._engine.abandon(claim, outcome.reason)
            else:
                await self._engine.finish(claim, outcome)
        except Exception:
            self.errors += 1
            log.exception("could not record the outcome of run %s", claim.run.id)
        if self._on_run_ended is not None:
            self._on_run_ended(claim.job.task_id)

    async def _execute(self, claim: Claim, control: RunControl) -> AgentResult | _Unrunnable:
        job = claim.job
        command = self._settings.agents.get(job.role)
        if command is None:
            return _Unrunnable(f"no agent is configured for the {job.role} role "
                               f"(add agents.{job.role})")
        task = await self._pipeline.get(job.task_id)
        if self.watch.follow(task, job.stage, control):  # it moved between claim and start
            return AgentResult(RunOutcome.CANCELLED, None, 0.0, control.reason,
                               self._log_path(claim.run.id))
        try:
            worktree = await self._worktrees.prepare(task)
        except (OrchError, OSError) as exc:
            return self._orch_failure(claim, f"could not prepare the worktree: {exc}",
                                      transient=True)
        await self._runs.mark_running(claim.run.id, self._clock.now())
        control.begin()  # the stall clock starts with the agent, not with the claim
        return await self._runner.run(self._request(claim, task, worktree, control), command)

    def _request(self, claim: Claim, task: Task, worktree: Path, control: RunControl
                 ) -> AgentRequest:
        job, run = claim.job, claim.run
        # a retry after a transient failure is told why the last try ended (a stall, ...)
        retried = job.last_error if job.transient_attempts else None
        prompt = build_prompt(
            task_key=task.key, title=task.title, description=task.description,
            stage=job.stage, role=job.role, attempt=run.attempt, repo=task.repo,
            branch=task.branch, failure_reason=job.context.rollback_reason or retried,
            lessons=job.context.lessons,
        )
        return AgentRequest(
            task_key=task.key, title=task.title, description=task.description,
            repo=task.repo, branch=task.branch, stage=job.stage, role=job.role,
            attempt=run.attempt, run_id=run.id, worktree=worktree,
            log_path=self._log_path(run.id), prompt=prompt, control=control,
        )

    def _log_path(self, run_id: int) -> Path:
        return self._logs_dir / f"run-{run_id}.log"

    def _orch_failure(self, claim: Claim, error: str, *, transient: bool = False
                      ) -> AgentResult:
        outcome = RunOutcome.TRANSIENT if transient else RunOutcome.FAILED
        return AgentResult(outcome, None, 0.0, error, self._log_path(claim.run.id))


def _nothing() -> None:
    """No one to tell (tests tick the loop themselves)."""
