"""Crash test of the real process: `orch run` killed with SIGKILL at random points.

    python -m bench.chaos --kills 20 [--seed 7]

The Telegram and Plane emulators run here; orch runs as a subprocess against them with
the sandbox's script agents (`bench/chaos_orch.py`: `orch run` with the group's budget
raised, the crash test being about durability, not pace). A scripted morning (commands,
presses, Plane moves, agent runs) is played while orch is killed at random moments
(inside the round trip of a send, right after someone typed or pressed, anywhere) and
restarted on the same database; a kill takes every process orch started, git included,
as a crashed container would. At the end it counts inputs, tasks and pushes lost,
pushes sent twice, cards duplicated and runs stuck. Required: nothing lost, nothing
stuck, and duplicates only from messages orch logged as "may have been sent twice".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import random
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.chaos_morning import Morning, Plan, count
from core.clock import SystemClock
from sandbox.plane import PlaneEmulator, serve_emulator
from sandbox.plane_team import seed_team_project
from sandbox.team import DEV, GROUP, LEAD, OUTSIDE
from sandbox.telegram.emulator import DEFAULT_TOKEN, TelegramEmulator
from sandbox.telegram.flood import FloodLimits

ROOT = Path(__file__).resolve().parents[1]
AGENTS = ROOT / "sandbox" / "agents"
SECOND = 503
PLANE_KEY = "plane_chaos_key"
READY_S = 40.0
GIT_WAIT_S = 5.0


@dataclass
class Kills:
    during_send: int = 0
    after_input: int = 0
    in_git: int = 0
    anywhere: int = 0

    @property
    def total(self) -> int:
        return self.during_send + self.after_input + self.in_git + self.anywhere


@dataclass
class Orch:
    """The subprocess: started, killed (with its agents) and started again."""

    env: dict[str, str]
    logs: Path
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0
    log_files: list[Path] = field(default_factory=list)

    async def start(self, emu: TelegramEmulator) -> None:
        self.starts += 1
        log = self.logs / f"orch-{self.starts}.log"
        self.log_files.append(log)
        with log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.chaos_orch", env=self.env, stdout=out,
                stderr=out, start_new_session=True, cwd=ROOT)
        polls = emu.bot().poll_generation  # a new getUpdates: orch is up and listening
        if not await emu.wait_for(lambda: emu.bot().poll_generation > polls or self.dead,
                                  READY_S):
            raise RuntimeError(f"orch did not start polling; see {log}")
        if self.dead:
            raise RuntimeError(f"orch exited at start; see {log}")

    @property
    def dead(self) -> bool:
        return self.proc is None or self.proc.returncode is not None

    def kill(self) -> None:
        """SIGKILL to orch and every process it started, as a crashed container would.

        Not only its process group: orch runs git (and the agents' guards) in sessions of
        their own, which a kill of the group alone would leave running, finishing what a
        crash would cut short. The tree is frozen first, so nothing new starts unseen."""
        if self.proc is None or self.proc.returncode is not None:
            return
        tree = {self.proc.pid}
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGSTOP)
        while new := descendants(self.proc.pid) - tree:
            tree |= new
            _signal_all(new, signal.SIGSTOP)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        _signal_all(tree, signal.SIGKILL)

    async def reap(self) -> None:
        if self.proc is not None:
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.kill()
                await self.proc.wait()

    def maybe_twice(self) -> int:
        return sum(f.read_text(errors="replace").count("may have been sent twice")
                   for f in self.log_files if f.exists())


def descendants(root: int) -> set[int]:
    """Every live process below `root`, by parent pid, as /proc shows it (none elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # gone meanwhile
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _signal_all(pids: set[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def orch_env(tg_url: str, plane_url: str, work: Path) -> dict[str, str]:
    config = work / "orch.toml"
    roles = ("developer", "reviewer", "tester", "deployer")
    config.write_text("".join(
        f'[agents.{role}]\ncommand = ["{{python}}", "{AGENTS / (role + ".py")}", '
        f'"{{prompt_file}}"]\ntimeout_s = 60\n\n' for role in roles)
        + '[plane.repos]\nWEB = "web"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCH_")}
    env.update({
        "ORCH_TELEGRAM_TOKEN": DEFAULT_TOKEN, "ORCH_TELEGRAM_CHAT_ID": str(GROUP),
        "ORCH_APPROVERS": f"{LEAD},{SECOND}", "ORCH_TELEGRAM_API_URL": tg_url,
        "ORCH_DB_PATH": str(work / "orch.db"), "ORCH_CONFIG": str(config),
        "ORCH_REPOS_DIR": str(work / "repos"), "ORCH_LOG_LEVEL": "INFO",
        "ORCH_PLANE_API_URL": plane_url, "ORCH_PLANE_API_TOKEN": PLANE_KEY,
        "ORCH_PLANE_WORKSPACE_SLUG": "acme", "ORCH_PLANE_PROJECTS": "WEB",
        "ORCH_PLANE_RATE_LIMIT_PER_MIN": "300", "ORCH_RECONCILE_INTERVAL_S": "2",
        "ORCH_PLANE_RESYNC_INTERVAL_S": "30",
    })
    return env


def kinds(kills: int, rng: random.Random) -> list[str]:
    """About a third each inside a send and right after input, one in ten inside a git
    command orch runs, the rest anywhere."""
    inside = math.ceil(kills * 0.35)
    after = min(math.ceil(kills * 0.35), kills - inside)
    git = min(kills // 10, kills - inside - after)
    chosen = (["send"] * inside + ["input"] * after + ["git"] * git
              + ["any"] * (kills - inside - after - git))
    rng.shuffle(chosen)
    return chosen


async def chaos(kills: int, seed: int, work: Path, plan: Plan) -> dict[str, Any]:
    rng = random.Random(seed)
    emu = TelegramEmulator(clock=SystemClock(), limits=FloodLimits(
        group_per_minute=1000, per_chat_per_second=30, per_chat_burst=60))
    emu.create_chat(GROUP, "supergroup", "Team")
    emu.create_chat(OUTSIDE, "group", "Somebody else's group")
    plane = PlaneEmulator(SystemClock(), PLANE_KEY, "acme", rate_limit_per_min=600)
    seed_team_project(plane, "WEB", "Web app")
    async with emu.serve() as tg_url, serve_emulator(plane) as plane_url:
        orch = Orch(orch_env(tg_url, plane_url, work), work)
        try:
            morning = Morning(emu, plane, work / "orch.db", rng, plan, (LEAD, SECOND), DEV)
            done = Kills()
            for kind in kinds(kills, rng):
                await orch.start(emu)
                await morning.act(rng.randint(1, 3))
                await asyncio.sleep(rng.uniform(0.0, 1.5))
                if kind == "send" and await kill_inside_a_send(emu, orch, morning, rng):
                    done.during_send += 1
                elif kind == "git" and await kill_inside_git(orch, morning, rng):
                    done.in_git += 1
                elif kind == "input":
                    await morning.act(1)
                    await asyncio.sleep(rng.uniform(0.0, 0.3))
                    orch.kill()
                    done.after_input += 1
                else:
                    await morning.act(rng.randint(0, 2))
                    await asyncio.sleep(rng.uniform(0.0, 2.0))
                    orch.kill()
                    done.anywhere += 1
                await orch.reap()
            await orch.start(emu)
            finished = await morning.finish(within_s=plan.finish_s)
            await orch.stop()
        finally:  # never leave an orch behind, whatever went wrong
            orch.kill()
            await orch.reap()
        counts = count(work / "orch.db", emu, morning)
    counts.update(kills=done.total, during_send=done.during_send, after_input=done.after_input,
                  in_git=done.in_git, anywhere=done.anywhere, restarts=orch.starts - 1,
                  finished=finished, logged_maybe_twice=orch.maybe_twice())
    return counts


async def kill_inside_a_send(emu: TelegramEmulator, orch: Orch, morning: Morning,
                             rng: random.Random) -> bool:
    """Kill orch while Telegram holds one of its sendMessage calls; half of those land."""
    fired = asyncio.Event()
    lands = rng.random() < 0.5

    async def hook(method: str) -> None:
        if method != "sendMessage" or fired.is_set():
            return
        orch.kill()
        fired.set()
        await asyncio.sleep(0.05)  # the process is gone before Telegram answers
        if not lands:
            raise RuntimeError("the connection dropped with the process")

    emu.before_call = hook
    try:
        for _ in range(3):
            await morning.act(1, provoke=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fired.wait(), 5)
                return True
        orch.kill()
        return False
    finally:
        emu.before_call = None


async def kill_inside_git(orch: Orch, morning: Morning, rng: random.Random) -> bool:
    """Kill orch while one of its git commands runs (a worktree being added, a fetch);
    False (and a kill anyway) when none starts within GIT_WAIT_S."""
    await morning.act(1)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GIT_WAIT_S
    while loop.time() < deadline and not orch.dead:
        assert orch.proc is not None
        if _runs_git(orch.proc.pid):
            await asyncio.sleep(rng.uniform(0.0, 0.03))
            orch.kill()
            return True
        await asyncio.sleep(0.002)
    orch.kill()
    return False


def _runs_git(pid: int) -> bool:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return False  # not Linux, or orch is gone
    for child in children:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0].endswith(b"git"):
                return True
    return False


def verdict(counts: dict[str, Any]) -> bool:
    lost = (counts["inputs_lost"] + counts["tasks_lost"] + counts["pushes_lost"]
            + counts["files_lost"])
    twice = counts["pushes_twice"] + counts["cards_duplicated"] + counts["replies_twice"]
    return (lost == 0 and counts["runs_stuck"] == 0 and counts["finished"]
            and twice <= counts["suspect_rows"] and counts["inputs_applied_twice"] == 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=random.SystemRandom().randrange(10**6))
    parser.add_argument("--small", action="store_true", help="fewer tasks (the test suite)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="work in this (new) folder and keep it: database and logs")
    args = parser.parse_args(argv)
    plan = Plan.small() if args.small else Plan()
    logging.getLogger("sandbox.telegram.api").setLevel(logging.CRITICAL)  # dropped on purpose
    with contextlib.ExitStack() as stack:
        if args.keep is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="orch-chaos-"))
        else:
            args.keep.mkdir(parents=True)
            folder = str(args.keep)
        counts = asyncio.run(chaos(args.kills, args.seed, Path(folder), plan))
        ok = verdict(counts)
        if not ok:
            for log in sorted(Path(folder).glob("orch-*.log")):
                print(f"--- {log.name} (tail)\n" + "\n".join(
                    log.read_text(errors="replace").splitlines()[-15:]))
    print(f"chaos seed={args.seed} " + " ".join(f"{k}={v}" for k, v in counts.items()))
    print("chaos: ok" if ok else "chaos: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
