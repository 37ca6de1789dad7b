"""/hooks/gitea (signed, de-duplicated deliveries wake the merge worker) and the forge
lines of `orch doctor`, against the emulator and real recorded deliveries."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from starlette.applications import Starlette

from app.merge_wiring import build_merge, doctor_forge, forge_repos, with_merge_gate
from core.clock import ManualClock, SystemClock
from core.config import Settings
from core.integrations.forge.webhooks import parse_hint, signature_ok
from core.lessons.journal import LessonJournal
from core.pipeline.service import PipelineService
from core.pipeline.stages import DEFAULT_PIPELINE, HUMAN_APPROVAL
from sandbox.gitea.emulator import GiteaEmulator
from sandbox.gitea.server import serve_gitea
from storage.database import Database
from storage.lessons import SqliteLessonStore
from storage.tasks import SqliteTaskStore
from tests.fakes import RecordingNotifier
from tests.git_rig import PersonClone

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gitea"
SECRET = "research-webhook-secret"


async def test_signed_deliveries_wake_the_worker_once_and_forged_ones_are_refused(
        database: Database, tmp_path: Path) -> None:
    clock = ManualClock()
    settings = Settings(gitea_url="http://gitea.invalid", gitea_token="t",
                        gitea_webhook_secret=SECRET, repos_dir=str(tmp_path / "repos"))
    pipeline = PipelineService(SqliteTaskStore(database), DEFAULT_PIPELINE, clock,
                               RecordingNotifier())
    journal = LessonJournal.from_settings(SqliteLessonStore(database), clock, settings)
    wiring = build_merge(settings, clock, database, pipeline, journal)
    woken: list[str] = []
    wiring.worker.wake = lambda: woken.append("woken")
    app = Starlette(routes=wiring.routes())
    delivery = json.loads((FIXTURES / "webhook_deliveries.json").read_text())[-2]
    body = json.dumps(delivery["body"], indent=2).encode()  # a PR merged by a person
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://orch") as client:
        first = await client.post("/hooks/gitea", content=body, headers=delivery["headers"])
        assert first.json() == {"ok": True, "woken": True} and woken == ["woken"]
        again = await client.post("/hooks/gitea", content=body, headers=delivery["headers"])
        assert again.json()["duplicate"] is True and woken == ["woken"]
        forged = {**delivery["headers"], "X-Gitea-Delivery": "other"}
        refused = await client.post("/hooks/gitea", content=body + b" ", headers=forged)
        assert refused.status_code == 401 and woken == ["woken"]
    await wiring.aclose()


async def test_the_emulator_signs_what_it_sends(tmp_path: Path) -> None:
    emu = GiteaEmulator(tmp_path, SystemClock())
    emu.hooks.url, emu.hooks.secret, emu.hooks.forgejo = "http://orch/hooks/gitea", "s", True
    got: list[tuple[dict[str, str], bytes]] = []

    async def sender(url: str, headers: dict[str, str], body: bytes) -> None:
        got.append((headers, body))

    emu.hooks.sender = sender  # type: ignore[assignment]
    repo = await emu.create_repo("team/api")
    user = emu.add_token("t", "bot")
    await run_person_push(emu, tmp_path)
    await emu.sync(repo)
    await emu.create_pull(repo, user, {"head": "feature", "base": "main", "title": "F"})
    await emu.hooks.deliver()
    events = [(parse_hint(h, b).event, signature_ok("s", b, h)) for h, b in got]
    assert events == [("push", True), ("pull_request", True)]
    assert all("X-Forgejo-Signature" in h for h, _ in got)


async def run_person_push(emu: GiteaEmulator, tmp_path: Path) -> None:
    person = await PersonClone.of(emu.clone_url("team/api"), tmp_path / "person")
    await person.commit_and_push("feature", {"f.txt": "f\n"})


async def test_doctor_names_the_version_the_token_and_each_repo(tmp_path: Path) -> None:
    emu = GiteaEmulator(tmp_path / "forge", SystemClock())
    await emu.create_repo("team/api")
    emu.add_token("bot-token", "orch-bot")
    lines: list[str] = []
    async with serve_gitea(emu) as url:
        settings = Settings(gitea_url=url, gitea_token="bot-token",
                            repo_remotes={"api": emu.clone_url("team/api")})
        assert await doctor_forge(settings, lines.append)
        bad = Settings(gitea_url=url, gitea_token="wrong", repo_remotes=settings.repo_remotes)
        assert not await doctor_forge(bad, lines.append)
    assert lines[:3] == [f"forge: Gitea/Forgejo 1.16.0+dev-2b16ca7c at {url}",
                         "forge: the token is orch-bot's",
                         "forge: api → team/api: reachable, orch may merge"]
    assert lines[3].startswith("forge: Gitea/Forgejo")  # /version needs no token
    assert lines[4].startswith("forge: FAILED") and "token is required" in lines[4]
    assert "wrong" not in lines[4]
    assert await doctor_forge(Settings(), lines.append)
    assert lines[-1].startswith("forge: not configured")


def test_forge_repos_come_from_the_remotes_unless_named() -> None:
    settings = Settings(repo_remotes={"api": "https://git.example.com/team/api.git",
                                      "web": "git@git.example.com:team/web.git",
                                      "ops": "https://git.example.com/x/ops"},
                        forge_repos={"ops": "infra/ops"})
    assert forge_repos(settings) == {"api": "team/api", "web": "team/web", "ops": "infra/ops"}


def test_the_default_merge_stage_gets_the_gate_and_a_way_back() -> None:
    merge = with_merge_gate(DEFAULT_PIPELINE).spec("merge")
    assert merge.gates == ("merged", HUMAN_APPROVAL) and merge.rollback_to == "development"
    assert with_merge_gate(with_merge_gate(DEFAULT_PIPELINE)) == with_merge_gate(
        DEFAULT_PIPELINE)
