"""`orch demo`: a short scripted morning of a team, against the local sandbox.

Starts the Telegram and Plane emulators on 127.0.0.1, runs orch against them with a
throwaway SQLite file, throwaway git repositories and a manual clock (so the morning
takes seconds), plays three acts and prints the group chat as a person reads it, then
a one-line summary:

1. the chat: tasks made by hand, approved, blocked and unblocked, cancelled, a stale
   button, an outsider refused;
2. Plane: items filed and moved by people in the tracker reach the group as cards;
3. the pipeline at work: script agents develop, review, test and deploy in real git
   worktrees; a failing test gate rolls a task back and leaves a lesson; a dependency
   is released once; the lesson is read with /lessons and closed with a button;
4. code lands: on a Gitea emulator with real git, two green tasks race for the merge
   lease, the second is rebased onto the first's merge and re-tested, and a third that
   is red on top of main is rolled back with a lesson; main is never broken.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

from app.runtime import Orch, running
from core.clock import ManualClock
from core.pipeline.tasks import Actor
from sandbox.demo_acts import agents_at_work, chat_morning, plane_act
from sandbox.demo_merge import FORGE_REPO, TOKEN, merge_act, shop_forge
from sandbox.gitea.emulator import GiteaEmulator
from sandbox.gitea.server import serve_gitea
from sandbox.plane import PlaneEmulator, serve_emulator
from sandbox.plane_team import seed_team_project
from sandbox.team import DEV, GROUP, LEAD, OUTSIDE, Team, sandbox_agents, sandbox_settings
from sandbox.telegram.emulator import TelegramEmulator
from sandbox.transcript import Transcript

NAMES = {LEAD: "lead", DEV: "dev"}
AGENT = Actor("engine", "", "the pipeline")
PLANE_KEY = "plane_api_demo_key"
PLANE_PROJECT = "WEB"
GETTING_STARTED = "docs/getting-started.md"


async def run_demo(*, quiet: bool = False) -> int:
    """Play the morning; print the transcript and a summary; 0 when it all went as planned."""
    if shutil.which("git") is None:
        print("orch demo: git is required (the agents work in git worktrees); install it "
              "and run the demo again", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    started = time.monotonic()
    clock = ManualClock()
    emu = TelegramEmulator(clock=clock)
    emu.create_chat(GROUP, "supergroup", "Team")
    emu.create_chat(OUTSIDE, "group", "Somebody else's group")
    plane = PlaneEmulator(clock, PLANE_KEY, "acme")
    seed_team_project(plane, PLANE_PROJECT, "Web app")
    with tempfile.TemporaryDirectory(prefix="orch-demo-") as folder:
        forge = await shop_forge(Path(folder) / "forge", clock)
        async with emu.serve() as url, serve_emulator(plane) as plane_url, \
                serve_gitea(forge) as gitea_url:
            forge.base_url = "https://git.example.com"  # the links the cards show
            settings = sandbox_settings(
                url, Path(folder) / "orch.db", repos_dir=str(Path(folder) / "repos"),
                agents=sandbox_agents(), plane_api_url=plane_url, plane_api_token=PLANE_KEY,
                plane_workspace_slug="acme", reconcile_interval_s=0.0,
                gitea_url=gitea_url, gitea_token=TOKEN,
                repo_remotes={"shop": forge.clone_url(FORGE_REPO)},
                # one agent at a time: the morning reads the same on every run
                max_concurrency=1)
            async with running(settings, clock, poll_timeout=1) as orch:
                checks, transcript = await _play(orch, emu, plane, clock, forge)
    if not quiet:
        print(transcript.render())
        print(f"\nNext: to run orch for your own team, follow {GETTING_STARTED}")
    stats = emu.stats()["totals"]
    print(f"demo: {'ok' if all(checks) else 'FAILED'} · {sum(checks)}/{len(checks)} checks · "
          f"{stats['sent']} messages sent, {stats['edits']} edits, "
          f"{stats['rate_limited']} rate-limited · {time.monotonic() - started:.1f}s")
    if not all(checks):
        failed = ", ".join(f"#{n}" for n, ok in enumerate(checks, 1) if not ok)
        print(f"demo: failed checks {failed} (numbered in the order the acts make them)")
    return 0 if all(checks) else 1


async def _play(orch: Orch, emu: TelegramEmulator, plane: PlaneEmulator,
                clock: ManualClock, forge: GiteaEmulator) -> tuple[list[bool], Transcript]:
    team = Team(emu, orch, clock, dict(NAMES))
    transcript = Transcript(clock, dict(NAMES), lambda: emu.chat_history(GROUP))
    checks = await chat_morning(team, transcript, AGENT)
    checks += await plane_act(team, transcript, plane, PLANE_PROJECT)
    checks += await agents_at_work(team, transcript)
    checks += await merge_act(team, transcript, forge)
    return checks, transcript
