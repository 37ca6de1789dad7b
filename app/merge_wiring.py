"""The merge gate as the running process holds it: the Gitea adapter, the gate and its
worker built from Settings, the forge gates for the stage engine, the /hooks/gitea
route, and the `orch doctor` check. Built only when ORCH_GITEA_URL and
ORCH_GITEA_TOKEN are both set; without them orch merges nothing, as before."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from core.clock import Clock, SystemClock
from core.config import Settings
from core.errors import ForgeError
from core.integrations.agents.retest import AgentRetester
from core.integrations.agents.runner import SubprocessAgentRunner
from core.integrations.forge.gitea import GiteaForge
from core.integrations.forge.http import GiteaHttp
from core.integrations.forge.webhooks import delivery_id, parse_hint, signature_ok
from core.integrations.git.branches import GitBranches
from core.integrations.git.workspace import GitWorkspace
from core.integrations.git.worktrees import GitWorktrees
from core.jobs.forge_gates import ForgeGates
from core.jobs.gates import GateCheck
from core.lessons.journal import LessonJournal
from core.merge.gate import GateConfig, MergeGate
from core.merge.worker import MERGE_GATE, MergeWorker
from core.pipeline.service import PipelineService
from core.pipeline.stages import Pipeline, StageSpec
from core.pipeline.tasks import Task
from core.ports import Retest, Retester
from storage.database import Database
from storage.merge import SqliteDeliveries, SqliteMergeLeaseStore, SqliteMergeRecords

log = logging.getLogger(__name__)

_REPO_PATH = re.compile(r"[/:]([^/:]+)/([^/]+?)(?:\.git)?/?$")


def forge_configured(settings: Settings) -> bool:
    return bool(settings.gitea_url and settings.gitea_token)


def with_merge_gate(pipeline: Pipeline) -> Pipeline:
    """The pipeline whose `merge` stage runs the gate (the `merged` gate, a rollback to
    development); a pipeline that names the gate itself is left as it is."""
    if any(MERGE_GATE in spec.gates for spec in pipeline.stages) or "merge" not in pipeline.order:
        return pipeline
    stages = []
    for spec in pipeline.stages:
        if spec.name == "merge":
            back = spec.rollback_to or ("development" if "development" in pipeline.order
                                        else None)
            spec = StageSpec(spec.name, spec.role, (MERGE_GATE, *spec.gates), back)
        stages.append(spec)
    return Pipeline(tuple(stages))


def forge_repos(settings: Settings) -> dict[str, str]:
    """repo → owner/name: [forge.repos] first, else the path of the repo's remote URL."""
    found = {}
    for repo, url in settings.repo_remotes.items():
        match = _REPO_PATH.search(url)
        if match:
            found[repo] = f"{match[1]}/{match[2]}"
    return {**found, **settings.forge_repos}


class _NoRetest:
    """No agent for the testing role: a re-test cannot run, so nothing merges."""

    def __init__(self, role: str) -> None:
        self._role = role

    async def retest(self, task: Task, worktree: Path, sha: str) -> Retest:
        return Retest(False, f"no agent is configured for the {self._role} role "
                             f"(agents.{self._role}) to re-test before merging")


@dataclass
class MergeWiring:
    forge: GiteaForge
    gate: MergeGate
    worker: MergeWorker
    checks: dict[str, GateCheck]
    deliveries: SqliteDeliveries
    secret: str
    clock: Clock

    def routes(self) -> list[BaseRoute]:
        return [gitea_webhook_route(self)]

    async def aclose(self) -> None:
        await self.forge.aclose()


def build_merge(settings: Settings, clock: Clock, db: Database, pipeline: PipelineService,
                journal: LessonJournal, *, retester: Retester | None = None,
                workspace: GitWorkspace | None = None) -> MergeWiring:
    """The merge gate and its worker; pass the job loop's `workspace` so that both take
    the same per-repository lock in the clones they share."""
    http = GiteaHttp(settings.gitea_url, settings.gitea_token, clock=clock)
    forge = GiteaForge(http)
    workspace = workspace or GitWorkspace(Path(settings.repos_dir))
    branches = GitBranches(workspace, GitWorktrees(workspace, settings.repo_remotes))
    leases, records = SqliteMergeLeaseStore(db), SqliteMergeRecords(db)
    config = GateConfig(forge_repos(settings), status_context=settings.merge_status_context,
                        rebase_always=settings.premerge_rebase_always,
                        lease_ttl_s=settings.merge_lease_ttl_s)
    gate = MergeGate(forge, branches, retester or _retester(settings, clock), leases, records,
                     pipeline, clock, config, on_hold=journal.merge_hold)
    worker = MergeWorker(gate, pipeline, leases, records, clock,
                         on_deploy_failed=journal.deploy_degraded)
    return MergeWiring(forge, gate, worker, ForgeGates(forge, records, config.forge_repos).checks(),
                       SqliteDeliveries(db), settings.gitea_webhook_secret, clock)


def _retester(settings: Settings, clock: Clock) -> Retester:
    pipeline = settings.pipeline
    role = next((s.role for s in pipeline.stages if s.role and "tests_passed" in s.gates),
                "tester")
    command = settings.agents.get(role)
    if command is None:
        return _NoRetest(role)
    return AgentRetester(SubprocessAgentRunner(clock), command,
                         Path(settings.repos_dir) / "_logs", role=role)


def settings_for_merge(settings: Settings) -> Settings:
    return replace(settings, pipeline=with_merge_gate(settings.pipeline))


def gitea_webhook_route(wiring: MergeWiring, *, path: str = "/hooks/gitea") -> Route:
    """POST /hooks/gitea: 401 unless X-Gitea-Signature / X-Forgejo-Signature is the HMAC
    of the raw body; a first-seen delivery wakes the merge worker (polling stays the
    source of truth). With no secret configured every delivery is refused."""

    async def receive(request: Request) -> Response:
        body = await request.body()
        if not signature_ok(wiring.secret, body, request.headers):
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        delivery = delivery_id(request.headers)
        if delivery and not await wiring.deliveries.first_time(delivery, wiring.clock.now()):
            return JSONResponse({"ok": True, "duplicate": True})
        hint = parse_hint(request.headers, body)
        if hint is not None:
            wiring.worker.hint()
        return JSONResponse({"ok": True, "woken": hint is not None})

    return Route(path, receive, methods=["POST"])


async def doctor_forge(settings: Settings, say: Callable[[str], None], *,
                       forge: GiteaForge | None = None) -> bool:
    """`orch doctor`'s forge lines: version, token, each repo reachable and mergeable."""
    if not forge_configured(settings):
        say("forge: not configured (ORCH_GITEA_URL, ORCH_GITEA_TOKEN): nothing is merged")
        return True
    own = forge or GiteaForge(GiteaHttp(settings.gitea_url, settings.gitea_token,
                                        clock=SystemClock()))
    ok = True
    try:
        say(f"forge: Gitea/Forgejo {await own.version()} at {settings.gitea_url}")
        say(f"forge: the token is {await own.whoami()}'s")
        for repo, full in sorted(forge_repos(settings).items()):
            access = await own.repository(full)
            can = access.can_push or access.is_admin
            ok &= can
            say(f"forge: {repo} → {full}: " + ("reachable, orch may merge" if can else
                                               "reachable, but the token may not merge"))
    except ForgeError as exc:
        say(f"forge: FAILED: {exc}")
        ok = False
    finally:
        if forge is None:
            await own.aclose()
    return ok
