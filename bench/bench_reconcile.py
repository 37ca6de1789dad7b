"""Incremental sync against a full scan, on a 10,000-item Plane project.

    .venv/bin/python bench/bench_reconcile.py [--items 10000] [--changes 50] [--rounds 3]

Serves the Plane emulator on 127.0.0.1, runs the reconciler as orch does (a real
PlaneClient, the shared 60/min budget, SQLite in a temporary folder), and between ticks
has people change `--changes` items. Each round measures an incremental tick, then the
same kind of change followed by a full scan, and prints API calls, rows transferred and
tick time for both, with their ratios. Time is a clock that jumps when the budget makes
the client wait, so the figures are the work, not the waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from core.clock import ManualClock
from core.config import DEFAULT_STATE_NAMES
from core.integrations.plane.client import PlaneClient
from core.pipeline.service import PipelineService
from core.pipeline.stages import DEFAULT_PIPELINE
from core.ports import NotifierHub
from core.ratebudget import RateBudget
from core.sync.config import SyncConfig
from core.sync.reconciler import Reconciler
from core.sync.report import TickReport
from core.sync.states_cache import StatesCache
from sandbox.plane import PlaneEmulator, serve_emulator
from sandbox.plane_team import seed_team_project
from storage.database import Database
from storage.tasks import SqliteTaskStore
from storage.tracker_items import SqliteSyncStore
from storage.tracker_pauses import SqlitePauseStore
from storage.tracker_writebacks import SqliteWriteBackStore

KEY = "bench-key"
OPEN_STATES = ("Backlog", "Todo", "In Progress", "In Review")


class JumpClock(ManualClock):
    """Sleeping moves time at once: budget waits cost nothing in wall time."""

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)


@dataclass
class Sample:
    calls: int
    rows: int
    seconds: float
    seen: int


@dataclass
class Bench:
    emulator: PlaneEmulator
    clock: JumpClock
    reconciler: Reconciler
    rng: random.Random

    def change(self, count: int, approved: list[str]) -> None:
        """People move `count` items, a couple of seconds apart; a few followed items
        are blocked or freed, so the tick has real work."""
        keys = [f"BIG-{n}" for n in self.rng.sample(range(1, len(self.emulator.items)), count)]
        for index, key in enumerate(keys):
            self.clock.advance(2)
            if index < 3 and approved:
                followed = approved[(index + self.rng.randrange(len(approved))) % len(approved)]
                state = self.emulator.states[self.emulator.item(followed).state_id].name
                self.emulator.move_item(followed, "In Progress" if state == "Blocked"
                                        else "Blocked")
            elif self.emulator.item(key).state_id not in self._followed_states():
                self.emulator.move_item(key, self.rng.choice(OPEN_STATES))

    def _followed_states(self) -> set[str]:
        project = self.emulator.project("BIG").id
        names = ("Approved", "Blocked", "Done", "Cancelled")
        return {self.emulator.state(project, name).id for name in names}

    async def measure(self, tick: Callable[[], Awaitable[TickReport]]) -> Sample:
        stats = self.emulator.stats
        calls, rows = stats.calls, stats.rows_transferred
        started = time.perf_counter()
        report = await tick()
        elapsed = time.perf_counter() - started
        if report.errors:
            raise SystemExit(f"the tick failed: {report.last_error}")
        return Sample(stats.calls - calls, stats.rows_transferred - rows, elapsed,
                      report.items_seen)


def seed(emulator: PlaneEmulator, items: int, approved: int) -> list[str]:
    seed_team_project(emulator, "BIG", "A big project")
    keys = []
    for n in range(items):
        state = "Approved" if n < approved else ("Done" if n % 3 == 0 else "Backlog")
        item = emulator.add_item("BIG", f"work item {n}", state=state)
        if n < approved:
            keys.append(emulator.key_of(item))
    emulator.outbox.pending.clear()
    return keys


async def run(items: int, changes: int, rounds: int) -> None:
    clock, rng = JumpClock(), random.Random(42)
    emulator = PlaneEmulator(clock, KEY, "acme")
    approved = seed(emulator, items, approved=20)
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as folder:
        db = await Database.open(Path(folder) / "orch.db")
        async with serve_emulator(emulator) as url:
            budget = RateBudget(clock, 60)
            async with PlaneClient(url, KEY, "acme", clock=clock, budget=budget) as client:
                reconciler = build(client, budget, clock, db)
                bench = Bench(emulator, clock, reconciler, rng)
                first = await bench.measure(reconciler.tick)
                print(f"first tick (full, {items} items, 20 tasks created): {first.calls} calls,"
                      f" {first.rows} rows, {first.seconds:.2f} s")
                await settle(bench)
                incremental, full = await rounds_of(bench, changes, rounds, approved)
        await db.close()
    report(items, changes, incremental, full)


def build(client: PlaneClient, budget: RateBudget, clock: JumpClock, db: Database) -> Reconciler:
    hub = NotifierHub()
    pipeline = PipelineService(SqliteTaskStore(db), DEFAULT_PIPELINE, clock, hub)
    states = StatesCache(client, clock, names=dict(DEFAULT_STATE_NAMES))
    reconciler = Reconciler(tracker=client, states=states, pipeline=pipeline,
                            store=SqliteSyncStore(db), outbox=SqliteWriteBackStore(db),
                            pauses=SqlitePauseStore(db), clock=clock, config=SyncConfig(),
                            meter=client.stats, budget=budget)
    hub.subscribe(reconciler.writeback)  # the start of each task is written back
    return reconciler


async def settle(bench: Bench) -> None:
    """The write-backs of the first tick come back once: let that echo pass."""
    bench.clock.advance(120)
    await bench.reconciler.tick()


async def rounds_of(bench: Bench, changes: int, rounds: int,
                    approved: list[str]) -> tuple[list[Sample], list[Sample]]:
    incremental: list[Sample] = []
    full: list[Sample] = []
    for _ in range(rounds):
        bench.change(changes, approved)
        bench.clock.advance(20)
        incremental.append(await bench.measure(bench.reconciler.tick))
        bench.change(changes, approved)
        bench.clock.advance(20)
        full.append(await bench.measure(bench.reconciler.resync))
        await settle(bench)
    return incremental, full


def report(items: int, changes: int, incremental: list[Sample], full: list[Sample]) -> None:
    def med(samples: list[Sample], name: str) -> float:
        return float(statistics.median(getattr(s, name) for s in samples))

    print(f"\n{items} items, {changes} changed between ticks, median of {len(full)} rounds")
    print(f"{'':14}{'incremental':>14}{'full scan':>14}{'full / incr':>14}")
    for name, label, fmt in (("calls", "API calls", "{:.0f}"), ("rows", "rows", "{:.0f}"),
                             ("seen", "items read", "{:.0f}"),
                             ("seconds", "tick time s", "{:.3f}")):
        inc, ful = med(incremental, name), med(full, name)
        ratio = f"{ful / inc:.1f}x" if inc else "-"
        print(f"{label:14}{fmt.format(inc):>14}{fmt.format(ful):>14}{ratio:>14}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    asyncio.run(run(args.items, args.changes, args.rounds))
    print(f"\nbench done in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
