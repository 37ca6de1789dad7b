"""The forge's quality gates, for any stage that names them:

- `merged` waits until the merge gate has merged the task's PR (the stage that names it
  is where the gate works: the engine never moves the task on before that);
- `ci_green`: the combined status of the PR's head is success; pending waits, failure
  or error rolls back;
- `branch_mergeable`: the PR exists, is open and the forge reports no conflict. Right
  after a push the forge is still checking and says "not mergeable" for a moment, so
  that answer waits once and only a repeated one rolls back.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.jobs.gates import FORGE_GATES, GateCheck, GateContext, GateOutcome, Waiting
from core.merge.records import MergeState
from core.ports import Forge, MergeRecords, PullRequest, StatusState

__all__ = ["FORGE_GATES", "ForgeGates"]
GREEN = StatusState.SUCCESS
WAITS = StatusState.PENDING


class ForgeGates:
    """The checks of FORGE_GATES over one forge and the merge records."""

    def __init__(self, forge: Forge, records: MergeRecords,
                 forge_repos: Mapping[str, str] | None = None) -> None:
        self._forge = forge
        self._records = records
        self._repos = forge_repos  # None: every repo is on the forge
        self._unmergeable_seen: set[tuple[int, str]] = set()

    def checks(self) -> dict[str, GateCheck]:
        return {"merged": self.merged, "ci_green": self.ci_green,
                "branch_mergeable": self.branch_mergeable}

    def _local(self, ctx: GateContext) -> GateOutcome | None:
        if self._repos is None or ctx.task.repo in self._repos:
            return None
        return GateOutcome(True, f"{ctx.task.repo} is a local repository: nothing to merge")

    async def merged(self, ctx: GateContext) -> GateOutcome:
        if local := self._local(ctx):
            return local
        record = await self._records.get(ctx.task.id)
        if record is not None and record.state is MergeState.MERGED:
            link = f" {record.pr_url}" if record.pr_url else ""
            # the reason of the advance: cards and the tracker write-back carry the link
            return GateOutcome(True, f"PR #{record.pr_number} merged{link}")
        return Waiting("waits for the merge gate")

    async def ci_green(self, ctx: GateContext) -> GateOutcome:
        if local := self._local(ctx):
            return local
        pr = await self._pr(ctx)
        if pr is None:
            return Waiting("the task has no pull request yet")
        record = await self._records.get(ctx.task.id)
        sha = (record.tested_sha if record and pr.merged and record.tested_sha
               else pr.head_sha)  # a merged PR's head follows the branch: use what merged
        combined = await self._forge.combined_status(_forge_repo(record, ctx), sha)
        if combined.state is GREEN:
            return GateOutcome(True, f"CI green on {sha[:12]}")
        if combined.state is WAITS:
            return Waiting(f"CI pending on {sha[:12]}")
        failing = ", ".join(s.context for s in combined.statuses if s.state is not GREEN)
        return GateOutcome(False, f"CI {combined.state.value} on {sha[:12]}: {failing}")

    async def branch_mergeable(self, ctx: GateContext) -> GateOutcome:
        if local := self._local(ctx):
            return local
        pr = await self._pr(ctx)
        if pr is None:
            return Waiting("the task has no pull request yet")
        if pr.merged:
            return GateOutcome(True, f"PR #{pr.number} is merged")
        if not pr.is_open:
            return GateOutcome(False, f"PR #{pr.number} was closed")
        seen = (pr.number, pr.head_sha)
        if pr.mergeable:
            self._unmergeable_seen.discard(seen)
            return GateOutcome(True, f"PR #{pr.number} is mergeable")
        if seen not in self._unmergeable_seen:  # maybe still checking: look again later
            self._unmergeable_seen.add(seen)
            return Waiting(f"the forge is checking PR #{pr.number}")
        return GateOutcome(False, f"PR #{pr.number} conflicts with its base")

    async def _pr(self, ctx: GateContext) -> PullRequest | None:
        record = await self._records.get(ctx.task.id)
        if record is None or record.pr_number is None:
            return None
        return await self._forge.get_pull_request(record.forge_repo, record.pr_number)


def _forge_repo(record: object, ctx: GateContext) -> str:
    return getattr(record, "forge_repo", None) or ctx.task.repo
