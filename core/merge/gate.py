"""The merge gate (DESIGN §4 "Merge", seed 001 level A).

`MergeGate.run(task)` takes one task in the merge stage one step towards main, deciding
from stored state and from the forge every time, so running it again — after a crash,
a webhook, a poll — never does anything twice:

1. the PR merged already (by orch before a crash, or by a person) → done, no merge call;
2. the repo's lease is busy → wait, touching nothing;
3. under the lease: fetch; the branch must be where orch last saw it (a person's push is
   never overwritten: the task is held and says why); rebase onto the current main
   (always, or only when behind); push with --force-with-lease against that SHA;
4. re-test the combined tree (skipped when that very SHA was re-tested green and still
   has its green status) and report the result as a commit status;
5. green → merge with head_commit_id = the tested SHA and an explicit title. 405 is
   retried with backoff; after every 404/405/409 the PR is fetched again before
   anything is decided (merged → done; head moved → no merge of an untested SHA);
6. red or a rebase conflict → roll back to development with the test output or the
   conflicting files, and a merge_hold lesson. The lease is released in every case.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from core.clock import Clock
from core.errors import DomainError, ForgeNotFound, MergeConflict, MergeRefused, StaleVersion
from core.merge.records import MergeRecord, MergeState
from core.pipeline.service import PipelineService
from core.pipeline.tasks import Actor, Task
from core.ports import (
    BranchGit,
    CommitStatus,
    Forge,
    MergeLease,
    MergeLeaseStore,
    MergeRecords,
    PullRequest,
    Retest,
    Retester,
    StatusState,
)

log = logging.getLogger(__name__)

GATE = Actor("merge-gate")
MAX_OUTPUT = 1500

LessonHook = Callable[[Task, str], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class GateConfig:
    """How the gate works; built once from Settings."""

    forge_repos: dict[str, str]  # orch repo → forge owner/name
    base: str = "main"
    status_context: str = "orch/merge"
    rebase_always: bool = True
    lease_ttl_s: float = 1800.0
    merge_style: str = "merge"
    merge_attempts: int = 5  # 405 answers retried, with backoff
    retry_base_s: float = 2.0
    owner: str = "orch"


class Step(StrEnum):
    MERGED = "merged"
    WAITING = "waiting"  # for the lease: nothing was touched
    ROLLED_BACK = "rolled_back"
    HELD = "held"  # for a person: the task is blocked with the reason
    RETRY = "retry"  # the forge said "later"; the next run starts over


@dataclass(frozen=True, slots=True)
class Outcome:
    step: Step
    reason: str = ""
    lease: MergeLease | None = None
    sha: str | None = None


class MergeGate:
    """Merges tasks' pull requests one per repository at a time; see the module doc."""

    def __init__(self, forge: Forge, git: BranchGit, retester: Retester, leases: MergeLeaseStore,
                 records: MergeRecords, pipeline: PipelineService, clock: Clock,
                 config: GateConfig, *, on_hold: LessonHook | None = None) -> None:
        self._forge = forge
        self._git = git
        self._retester = retester
        self._leases = leases
        self._records = records
        self._pipeline = pipeline
        self._clock = clock
        self.config = config
        self._on_hold = on_hold
        self.retests = 0

    def forge_repo(self, repo: str) -> str:
        return self.config.forge_repos.get(repo, repo)

    def handles(self, repo: str) -> bool:
        """A repo the forge knows; others (local repositories) have nothing to merge."""
        return repo in self.config.forge_repos

    # --- leaving development: the branch goes to the forge, the PR opens -----------------

    async def publish(self, task: Task) -> MergeRecord:
        """Push the task's branch and open (or find) its PR; idempotent."""
        record = await self._record(task)
        git = self._git
        worktree, local = await git.fetch(task)
        remote = await git.remote_sha(task.repo, record.branch)
        if remote not in (local, record.seen_sha) and record.seen_sha is not None:
            raise DomainError(f"{record.branch} was moved on the forge by someone else")
        if remote != local and not await git.push(worktree, record.branch, local, remote):
            raise DomainError(f"{record.branch} moved on the forge while orch pushed it")
        record = await self._save(record.but(seen_sha=local, pushing_sha=None))
        if record.pr_number is None:
            pr = await self._forge.open_pull_request(
                record.forge_repo, record.branch, self.config.base, f"{task.key}: {task.title}",
                f"{task.description}\n\nOpened by orch for {task.key}.".strip())
            record = await self._save(record.but(pr_number=pr.number, pr_url=pr.url))
        return record

    # --- the merge -------------------------------------------------------------------

    async def run(self, task: Task) -> Outcome:
        record = await self._record(task)
        if record.state is MergeState.MERGED:
            return Outcome(Step.MERGED, "merged", sha=record.merged_sha)
        if record.pr_number is None:
            record = await self.publish(task)
        pr = await self._pr(record)
        if pr.merged:
            return await self._completed(task, record, pr)
        if not pr.is_open:
            return await self._hold(task, record, f"its PR #{pr.number} was closed on the forge")
        grant = await self._leases.acquire(task.repo, task.id, task.key, self.config.owner,
                                           self._clock.now(), self.config.lease_ttl_s)
        if not grant.granted:
            return Outcome(Step.WAITING, "merge lease busy", lease=grant.lease)
        try:
            return await self._under_lease(task, record)
        finally:
            await self._leases.release(task.repo, task.id, self._clock.now(), "gate step done")

    async def _under_lease(self, task: Task, record: MergeRecord) -> Outcome:
        git, main_ref = self._git, self.config.base
        worktree, _ = await git.fetch(task)
        main = await git.remote_sha(task.repo, main_ref)
        remote = await git.remote_sha(task.repo, record.branch)
        if main is None or remote is None:
            return await self._hold(task, record, f"{record.branch} or {main_ref} is missing "
                                                  "on the forge")
        if record.state is MergeState.HELD or remote == record.pushing_sha:
            record = await self._save(record.but(seen_sha=remote, pushing_sha=None,
                                                 state=MergeState.OPEN, note=None))
        if remote != record.seen_sha:
            return await self._moved(task, record, remote)
        sha = remote
        if self.config.rebase_always or not await git.contains(task.repo, main, remote):
            await self._phase(task, "rebasing")
            rebased = await git.rebase(worktree, remote, main)
            if rebased.sha is None:
                files = ", ".join(rebased.conflicts) or "unknown files"
                return await self._roll_back(task, record,
                                             f"rebase onto {main_ref} conflicts in {files}")
            sha = rebased.sha
            if sha != remote:
                record = await self._save(record.but(pushing_sha=sha))
                if not await git.push(worktree, record.branch, sha, remote):
                    return await self._moved(task, record, None)
                record = await self._save(record.but(seen_sha=sha, pushing_sha=None))
        if not await self._tested_green(record, sha):
            outcome = await self._retest(task, record, worktree, sha)
            if outcome is not None:
                return outcome
            record = await self._current(task)
        return await self._merge(task, record, sha)

    async def _tested_green(self, record: MergeRecord, sha: str) -> bool:
        """A redrive: this SHA was re-tested green and its status still says so."""
        if record.tested_sha != sha or not record.tested_green:
            return False
        status = (await self._forge.combined_status(record.forge_repo, sha)).of(
            self.config.status_context)
        return status is not None and status.state is StatusState.SUCCESS

    async def _retest(self, task: Task, record: MergeRecord, worktree: Path,
                      sha: str) -> Outcome | None:
        await self._phase(task, "re-testing")
        context = self.config.status_context
        await self._forge.set_status(record.forge_repo, sha, CommitStatus(
            context, StatusState.PENDING, "re-testing on the current main"))
        self.retests += 1
        result = await self._renewing(task, self._retester.retest(task, worktree, sha))
        record = await self._save(record.but(tested_sha=sha, tested_green=result.passed))
        state = StatusState.SUCCESS if result.passed else StatusState.FAILURE
        words = "green on the current main" if result.passed else "red on the current main"
        await self._forge.set_status(record.forge_repo, sha, CommitStatus(context, state, words))
        if result.passed:
            return None
        tail = result.output.strip()[-MAX_OUTPUT:] or "no output"
        return await self._roll_back(task, record, f"re-test after rebase onto "
                                                   f"{self.config.base} failed: {tail}")

    async def _merge(self, task: Task, record: MergeRecord, sha: str) -> Outcome:
        await self._phase(task, "merging")
        record = await self._save(record.but(state=MergeState.MERGING))
        number = record.pr_number or 0
        title = f"{task.key}: {task.title} (#{number})"
        message = f"Tested-by: orch ({self.config.status_context}) on {sha[:12]}"
        last = ""
        for attempt in range(1, self.config.merge_attempts + 1):
            try:
                await self._forge.merge(record.forge_repo, number, head_sha=sha, title=title,
                                        message=message, style=self.config.merge_style)
            except (MergeRefused, MergeConflict, ForgeNotFound) as exc:
                last = str(exc)
                pr = await self._pr(record)  # never decide on a 404/405/409 alone
                if pr.merged:
                    return await self._completed(task, record, pr)
                if not pr.is_open:
                    return await self._hold(task, record, f"its PR #{number} was closed")
                if pr.head_sha != sha:
                    return await self._moved(task, record, pr.head_sha)
                if not isinstance(exc, MergeRefused):
                    break  # main moved under the PR: the next run rebases again
                await self._clock.sleep(self.config.retry_base_s * 2 ** (attempt - 1))
                continue
            return await self._completed(task, record, await self._pr(record))
        await self._save(record.but(state=MergeState.OPEN, note=last))
        return Outcome(Step.RETRY, f"the forge did not merge: {last}")

    # --- endings ---------------------------------------------------------------------

    async def _completed(self, task: Task, record: MergeRecord, pr: PullRequest) -> Outcome:
        sha = pr.merge_commit_sha or pr.base_sha
        await self._save(record.but(state=MergeState.MERGED, merged_sha=sha, note=None))
        await self._leases.release(task.repo, task.id, self._clock.now(), "merged")
        worktree, _ = await self._git.fetch(task)
        await self._git.checkout(worktree, sha)  # what the deploy stage runs on
        log.info("%s merged as %s", task.key, sha[:12])
        return Outcome(Step.MERGED, f"merged as {sha[:12]}", sha=sha)

    async def _moved(self, task: Task, record: MergeRecord, now: str | None) -> Outcome:
        where = f"to {now[:12]}" if now else "meanwhile"
        seen = (record.seen_sha or "nothing")[:12]
        reason = (f"{record.branch} was moved on the forge by someone else ({where}; orch last "
                  f"pushed {seen}); orch never overwrites it: unblock to re-test what is there")
        return await self._hold(task, record, reason)

    async def _hold(self, task: Task, record: MergeRecord, reason: str) -> Outcome:
        await self._save(record.but(state=MergeState.HELD, note=reason))
        await self._move(task, lambda: self._pipeline.block(
            task.id, GATE, reason, expected_version=task.version))
        return Outcome(Step.HELD, reason)

    async def _roll_back(self, task: Task, record: MergeRecord, reason: str) -> Outcome:
        await self._save(record.but(state=MergeState.OPEN, note=reason))
        moved = await self._move(task, lambda: self._pipeline.rollback(
            task.id, GATE, reason, expected_version=task.version))
        if not moved:
            await self._move(task, lambda: self._pipeline.block(
                task.id, GATE, reason, expected_version=task.version))
        if self._on_hold is not None:
            try:
                await self._on_hold(task, reason)
            except Exception:
                log.warning("merge_hold lesson for %s failed", task.key, exc_info=True)
        return Outcome(Step.ROLLED_BACK, reason)

    async def _move(self, task: Task, move: Callable[[], Awaitable[Task]]) -> bool:
        try:
            await move()
        except DomainError as exc:
            log.warning("merge gate could not move %s: %s", task.key, exc)
            return False
        return True

    # --- helpers ---------------------------------------------------------------------

    async def _renewing(self, task: Task, work: Awaitable[Retest]) -> Retest:
        """Await `work`, renewing the lease every third of its lifetime meanwhile."""
        renewer = asyncio.ensure_future(self._renew_forever(task))
        try:
            return await work
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)

    async def _renew_forever(self, task: Task) -> None:
        while True:
            await self._clock.sleep(self.config.lease_ttl_s / 3)
            await self._leases.renew(task.repo, task.id, self._clock.now(),
                                     self.config.lease_ttl_s)

    async def _phase(self, task: Task, phase: str) -> None:
        await self._leases.renew(task.repo, task.id, self._clock.now(),
                                 self.config.lease_ttl_s, phase=phase)

    async def _pr(self, record: MergeRecord) -> PullRequest:
        return await self._forge.get_pull_request(record.forge_repo, record.pr_number or 0)

    async def _record(self, task: Task) -> MergeRecord:
        return await self._records.ensure(task.id, task.repo, self.forge_repo(task.repo),
                                          task.branch or f"orch/{task.key.lower()}",
                                          self._clock.now())

    async def _current(self, task: Task) -> MergeRecord:
        record = await self._records.get(task.id)
        assert record is not None
        return record

    async def _save(self, record: MergeRecord) -> MergeRecord:
        saved = await self._records.save(record, self._clock.now())
        if saved is None:
            raise StaleVersion(f"the merge record of task #{record.task_id} changed meanwhile")
        return saved
