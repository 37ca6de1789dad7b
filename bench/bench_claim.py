"""Claim throughput on a real SQLite file: 10,000 queued jobs, 20,000 dependency edges.

Seeds one database file, copies it twice, then claims the same jobs two ways:

- the real claim (`SqliteJobStore.claim`): one UPDATE ... WHERE id = (SELECT ...)
  with the dependency gate as NOT EXISTS, plus the run's INSERT, in one transaction;
- a naive claim: load every queued job and every dependency into Python, pick the
  first runnable job there, then UPDATE and INSERT the same way.

It checks both picked the same jobs in the same order and prints claims per second
and the ratio of their times. Run: `.venv/bin/python -m bench.bench_claim`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.clock import utc_iso
from core.jobs.model import ClaimLimits
from storage.database import Database
from storage.jobs import SqliteJobStore

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
OWNER = "bench:1:0"
LIMITS = ClaimLimits(max_running=1_000_000, per_repo=None, deps_enabled=True)
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


async def seed(path: Path, jobs: int, edges: int, done: int, seed_value: int) -> None:
    """`done` finished tasks, then `jobs` tasks in development with a queued job each;
    `edges` dependencies from a task to an older one (70 % of them to a done task)."""
    rng = random.Random(seed_value)
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
        await tx.execute_many(Q["insert_job"], queued)
        await tx.execute_many(Q["insert_dep"], [(t, d, at) for t, d in sorted(deps)])
    await db.fetch_one(Q["checkpoint"])
    await db.close()


async def real_claim(db: Database, store: SqliteJobStore, at: datetime) -> int | None:
    claim = await store.claim(OWNER, at, LIMITS)
    return claim.job.id if claim else None


async def naive_claim(db: Database, store: SqliteJobStore, at: datetime) -> int | None:
    async with db.transaction() as tx:
        queued = await tx.fetch_all(Q["naive_queued"], (utc_iso(at),))
        waiting = {row[0] for row in await tx.fetch_all(Q["naive_deps"]) if row[1] != "done"}
        running = len(await tx.fetch_all(Q["naive_running"]))
        if running >= LIMITS.max_running:
            return None
        for row in queued:
            if row["stage"] == row["task_stage"] and row["task_id"] not in waiting:
                now = utc_iso(at)
                taken = await tx.fetch_one(Q["naive_take"], (OWNER, now, row["id"]))
                assert taken is not None
                await tx.execute(Q["naive_open_run"],
                                 (row["id"], row["task_id"], taken[0], OWNER, now, now))
                return int(row["id"])
    return None


Claimer = Callable[[Database, SqliteJobStore, datetime], Awaitable[int | None]]


@dataclass
class Measured:
    ids: list[int]
    times: list[float]

    @property
    def total(self) -> float:
        return sum(self.times)

    def mean_ms(self, part: slice = slice(None)) -> float:
        chosen = self.times[part]
        return 1000 * sum(chosen) / len(chosen)


async def measure(path: Path, claimer: Claimer, claims: int) -> Measured:
    db = await Database.open(path)
    store = SqliteJobStore(db)
    at = T0 + timedelta(minutes=5)
    result = Measured([], [])
    for _ in range(claims):
        started = time.perf_counter()
        job = await claimer(db, store, at)
        if job is None:
            break
        result.times.append(time.perf_counter() - started)
        result.ids.append(job)
    await db.close()
    return result


async def main(jobs: int, edges: int, claims: int, naive_claims: int) -> None:
    Q.update(load_queries())
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as tmp:
        base = Path(tmp) / "seed.db"
        started = time.perf_counter()
        await seed(base, jobs, edges, done=jobs // 5, seed_value=42)
        print(f"seeded {jobs} queued jobs, {edges} dependency edges "
              f"in {time.perf_counter() - started:.1f} s ({base.stat().st_size >> 20} MiB)")
        real_db, naive_db = Path(tmp) / "real.db", Path(tmp) / "naive.db"
        shutil.copy(base, real_db)
        shutil.copy(base, naive_db)
        real = await measure(real_db, real_claim, claims)
        naive = await measure(naive_db, naive_claim, naive_claims)
    report(real, naive)


def report(real: Measured, naive: Measured) -> None:
    shared = min(len(real.ids), len(naive.ids))
    assert real.ids[:shared] == naive.ids[:shared], "the two claims picked different jobs"
    for name, m in (("claim (one statement)", real), ("naive (Python)       ", naive)):
        print(f"{name}: {len(m.ids)} claims in {m.total:.2f} s = "
              f"{len(m.ids) / m.total:,.0f} claims/s, {m.mean_ms():.2f} ms each "
              f"(first 100: {m.mean_ms(slice(0, 100)):.2f} ms, "
              f"last 100: {m.mean_ms(slice(-100, None)):.2f} ms)")
    print(f"same jobs in the same order for the first {shared} claims: yes")
    print(f"ratio naive/claim per claim, same claims: "
          f"{naive.mean_ms() / real.mean_ms(slice(0, len(naive.ids))):.1f}x; "
          f"over all claims: {naive.mean_ms() / real.mean_ms():.1f}x")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=20_000)
    parser.add_argument("--claims", type=int, default=3_000)
    parser.add_argument("--naive-claims", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.edges, args.claims, args.naive_claims))


if __name__ == "__main__":
    cli()
