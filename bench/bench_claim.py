"""Claim cost at 1,000, 10,000 and 100,000 queued jobs, against the floor, in one run.

For each size, one SQLite file is seeded: `jobs` tasks in development with a queued job
each, a fifth as many tasks done, and twice as many dependency edges as jobs (each from
a task to an older one, 70 % of them to a done task). Three phases are derived from it:

- fresh: as seeded;
- after 30 %: 30 % of the jobs claimed in order and finished (their tasks done, which
  releases their dependents);
- idle poll: that, with every runnable job backed off, so nothing can be claimed.

In each phase, each on its own copy of the phase's file, three things are timed per
call through orch's own `Database`: the floor (a trivial `UPDATE … RETURNING` of one
row in one transaction), the claim (`SqliteJobStore.claim`), and a naive claim (every
queued job and every edge loaded into Python, the first runnable one taken). The claim
and the naive claim must pick the same jobs in the same order. Floor and claim take
turns call by call across all sizes at once, so that a slower minute of the machine
weighs on every size alike and the growth from 1,000 to 100,000 is the claim's own.

Goals: at 10,000 jobs the claim reaches ≥ 0.45× the floor's rate in every phase; at
100,000 jobs its cost per call is within 1.5× of its cost at 1,000, in every phase.
Run: `.venv/bin/python -m bench.bench_claim` (`--sizes 1000,10000` for fewer).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.clock import utc_iso
from core.jobs.model import ClaimLimits
from storage.database import Database
from storage.jobs import SqliteJobStore

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
AT = T0 + timedelta(minutes=5)
OWNER = "bench:1:0"
LIMITS = ClaimLimits(max_running=1_000_000, per_repo=None, deps_enabled=True)
PHASES = ("fresh", "after 30 %", "idle poll")
GOAL_RATIO, GOAL_GROWTH = 0.45, 1.5
Q: dict[str, str] = {}


def load_queries() -> dict[str, str]:
    return load_queries_from(Path(__file__).with_suffix(".sql"))


def load_queries_from(path: Path) -> dict[str, str]:
    """The `-- name:` blocks of a benchmark's own .sql file."""
    named: dict[str, str] = {}
    current, body = "", []
    for line in path.read_text("utf-8").splitlines():
        if line.startswith("-- name:"):
            if current:
                named[current] = "\n".join(body).strip()
            current, body = line.split(":", 1)[1].strip(), []
        elif current:
            body.append(line)
    named[current] = "\n".join(body).strip()
    return named


# --- the files ------------------------------------------------------------------------


async def seed(path: Path, jobs: int, edges: int, seed_value: int = 42) -> None:
    rng = random.Random(seed_value)
    done = jobs // 5
    db = await Database.open(path)
    at = utc_iso(T0)
    total = done + jobs
    tasks = [(i, f"B-{i}", f"repo{i % 7}", f"task {i}", "done" if i <= done else "development",
              at, at, at) for i in range(1, total + 1)]
    queued = [(i, f"repo{i % 7}", utc_iso(T0 + timedelta(milliseconds=rng.randrange(60_000))),
               at, at) for i in range(done + 1, total + 1)]
    deps: set[tuple[int, int]] = set()
    while len(deps) < edges:
        task = rng.randrange(done + 2, total + 1)
        target = rng.randrange(1, done + 1) if rng.random() < 0.7 else rng.randrange(
            done + 1, task)
        deps.add((task, target))
    async with db.transaction() as tx:
        await tx.execute_many(Q["insert_task"], tasks)
        await tx.execute_many(Q["insert_dep"], [(t, d, at) for t, d in sorted(deps)])
        await tx.execute_many(Q["insert_job"], queued)
    await db.fetch_one(Q["checkpoint"])
    await db.close()


def process(path: Path, count: int) -> None:
    """Claim `count` jobs in claim order and finish them: job succeeded, task done."""
    conn = sqlite3.connect(path, isolation_level=None)
    at = utc_iso(AT)
    conn.execute("BEGIN")
    for _ in range(count):
        row = conn.execute(Q["next_ready"], (at,)).fetchone()
        if row is None:
            break
        conn.execute(Q["job_done"], (at, row[0]))
        conn.execute(Q["task_done"], (at, row[1]))
    conn.execute("COMMIT")
    conn.execute(Q["checkpoint"])
    conn.close()


def back_off(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(Q["back_off_ready"], (utc_iso(AT + timedelta(hours=1)),))
    conn.execute(Q["checkpoint"])
    conn.close()


# --- the three callers ----------------------------------------------------------------


async def floor(db: Database, store: SqliteJobStore, n: int) -> int | None:
    async with db.transaction() as tx:
        row = await tx.fetch_one(Q["floor"], (utc_iso(AT), n % 1000 + 1))
    return int(row[0]) if row else None


async def claim(db: Database, store: SqliteJobStore, n: int) -> int | None:
    found = await store.claim(OWNER, AT, LIMITS)
    return found.job.id if found else None


async def naive(db: Database, store: SqliteJobStore, n: int) -> int | None:
    async with db.transaction() as tx:
        queued = await tx.fetch_all(Q["naive_queued"], (utc_iso(AT),))
        waiting = {row[0] for row in await tx.fetch_all(Q["naive_deps"]) if row[1] != "done"}
        running = len(await tx.fetch_all(Q["naive_running"]))
        if running >= LIMITS.max_running:
            return None
        for row in queued:
            if row["stage"] == row["task_stage"] and row["task_id"] not in waiting:
                now = utc_iso(AT)
                taken = await tx.fetch_one(Q["naive_take"], (OWNER, now, row["id"]))
                assert taken is not None
                await tx.execute(Q["naive_open_run"],
                                 (row["id"], row["task_id"], taken[0], OWNER, now, now))
                return int(row["id"])
    return None


Caller = Callable[[Database, SqliteJobStore, int], Awaitable[int | None]]


@dataclass
class Measured:
    ids: list[int | None] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    @property
    def per_call_ms(self) -> float:
        return 1000 * sum(self.times) / len(self.times)

    @property
    def rate(self) -> float:
        return len(self.times) / sum(self.times)


async def opened(source: Path, work: Path) -> tuple[Database, SqliteJobStore]:
    """A fresh copy of `source`, flushed to disk before it is timed: otherwise the first
    checkpoint's fsync on the copy writes the whole copied file (73 MiB at 100,000 jobs)
    and charges it to whichever call made it."""
    shutil.copy(source, work)
    fd = os.open(work, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    db = await Database.open(work)
    return db, SqliteJobStore(db)


async def measure(files: dict[int, Path], tmp: Path, callers: dict[str, Caller], calls: int,
                  into: dict[int, dict[str, Measured]]) -> None:
    """`calls` calls of each caller on each size's copy, taking turns call by call, so
    that whatever else the machine does meanwhile weighs on every caller and size alike."""
    dbs = {size: await opened(source, tmp / f"work-{size}.db") for size, source in files.items()}
    try:
        for n in range(calls):
            for size, (db, store) in dbs.items():
                for name, caller in callers.items():
                    started = time.perf_counter()
                    found = await caller(db, store, n)
                    into[size][name].times.append(time.perf_counter() - started)
                    into[size][name].ids.append(found)
    finally:
        for size, (db, _) in dbs.items():
            await db.close()
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(f"{tmp / f'work-{size}.db'}{suffix}")


async def measure_phase(files: dict[int, Path], tmp: Path, calls: int, rounds: int,
                        naive_calls: dict[int, int]) -> dict[int, dict[str, Measured]]:
    """Floor and claim take turns on every size's copy of the phase's file, `rounds`
    times, each on fresh copies (so a round never runs out of runnable jobs); the naive
    claim on its own copy, one size at a time. The claim and the naive claim must pick
    the same jobs in the same order."""
    found = {size: {name: Measured() for name in ("floor", "claim", "naive")}
             for size in files}
    for _ in range(rounds):
        await measure(files, tmp, {"floor": floor, "claim": claim}, calls, found)
    for size, source in files.items():
        await measure({size: source}, tmp, {"naive": naive}, naive_calls[size], found)
        first_round, naives = found[size]["claim"].ids[:calls], found[size]["naive"].ids
        shared = min(len(first_round), len(naives))
        assert first_round[:shared] == naives[:shared], "different jobs picked"
    return found


async def prepare(tmp: Path, jobs: int) -> dict[str, Path]:
    """The three phases' files of one size."""
    base = tmp / f"seed-{jobs}.db"
    started = time.perf_counter()
    await seed(base, jobs, 2 * jobs)
    after, idle = tmp / f"after-{jobs}.db", tmp / f"idle-{jobs}.db"
    shutil.copy(base, after)
    process(after, jobs * 3 // 10)
    shutil.copy(after, idle)
    back_off(idle)
    print(f"{jobs:,} queued jobs, {2 * jobs:,} edges: files ready in "
          f"{time.perf_counter() - started:.1f} s ({base.stat().st_size >> 20} MiB)")
    return dict(zip(PHASES, (base, after, idle), strict=True))


async def bench_sizes(tmp: Path, sizes: list[int], calls: int, rounds: int,
                      naive_budget: int) -> dict[int, dict[str, dict[str, Measured]]]:
    files = {jobs: await prepare(tmp, jobs) for jobs in sizes}
    naive_calls = {jobs: max(3, min(calls, naive_budget // jobs)) for jobs in sizes}
    results: dict[int, dict[str, dict[str, Measured]]] = {jobs: {} for jobs in sizes}
    for phase in PHASES:
        found = await measure_phase({jobs: files[jobs][phase] for jobs in sizes}, tmp, calls,
                                    rounds, naive_calls)
        for jobs in sizes:
            results[jobs][phase] = found[jobs]
    for jobs in sizes:
        print(f"\n{jobs:,} queued jobs, {2 * jobs:,} edges")
        for phase in PHASES:
            report_phase(phase, results[jobs][phase])
    for paths in files.values():
        for path in paths.values():
            os.remove(path)
    return results


def report_phase(phase: str, found: dict[str, Measured]) -> None:
    floor_rate = found["floor"].rate
    claim_, naive_ = found["claim"], found["naive"]
    claimed = sum(1 for job in claim_.ids if job is not None)
    print(f"  {phase:<11} floor {floor_rate:7,.0f}/s · claim {claim_.rate:7,.0f}/s "
          f"({claim_.rate / floor_rate:.2f}× floor, {claim_.per_call_ms:.3f} ms, "
          f"{claimed} of {len(claim_.ids)} found a job) · naive {naive_.rate:7,.1f}/s "
          f"({naive_.rate / floor_rate:.4f}× floor, {naive_.per_call_ms:.1f} ms)")


def verdict(results: dict[int, dict[str, dict[str, Measured]]]) -> list[str]:
    lines = []
    sizes = sorted(results)
    probe = 10_000 if 10_000 in results else sizes[len(sizes) // 2]
    for phase in PHASES:
        found = results[probe][phase]
        ratio = found["claim"].rate / found["floor"].rate
        ok = "met" if ratio >= GOAL_RATIO else "MISSED"
        lines.append(f"{phase}: claim at {probe:,} = {ratio:.2f}× floor "
                     f"(goal ≥ {GOAL_RATIO}×: {ok})")
        if len(sizes) > 1:
            small, large = results[sizes[0]][phase], results[sizes[-1]][phase]
            growth = large["claim"].per_call_ms / small["claim"].per_call_ms
            # the same ratio in floor units: what the machine's load did meanwhile cancels
            steady = growth / (large["floor"].per_call_ms / small["floor"].per_call_ms)
            ok = "met" if growth <= GOAL_GROWTH else "MISSED"
            lines.append(f"{phase}: claim cost at {sizes[-1]:,} = {growth:.2f}× its cost at "
                         f"{sizes[0]:,} (goal ≤ {GOAL_GROWTH}×: {ok}; in floor units "
                         f"{steady:.2f}×)")
    return lines


async def main(sizes: list[int], calls: int, rounds: int, naive_budget: int) -> list[str]:
    Q.update(load_queries())
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as tmp:
        results = await bench_sizes(Path(tmp), sizes, calls, rounds, naive_budget)
    lines = verdict(results)
    print()
    print("\n".join(lines))
    return lines


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="queued jobs per size, comma separated")
    parser.add_argument("--calls", type=int, default=250,
                        help="floor and claim calls per round (at most the runnable jobs)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds per phase")
    parser.add_argument("--naive-budget", type=int, default=1_000_000,
                        help="naive calls per phase = this / jobs (3 at least)")
    args = parser.parse_args()
    sizes = [int(part) for part in args.sizes.split(",") if part.strip()]
    asyncio.run(main(sizes, args.calls, args.rounds, args.naive_budget))


if __name__ == "__main__":
    cli()
