"""/queue at 10,000 tasks: rebuilt cold against answered from the summary cache.

Seeds one SQLite file (10,000 tasks of which 8,554 open, 1,000 with dependencies, 100
blocked, 2 running jobs, 1,000 lessons), wires the summary as `orch run` does
(app/queue_summary.py) and measures `/queue` rendered as the group reads it:

- cold: every section rebuilt (`/queue fresh`), 200 calls;
- cached: answered from the cache with nothing changed, 200 calls;
- after a change: a task is blocked, then /queue answers (stale, from the cache) and,
  once the one background refresh is done, the next answers fresh; 50 rounds.

Prints p50/p95 of each and the cold/cached ratio. Goal: cached p95 < 5 ms and >= 20x
faster than cold. Run: `.venv/bin/python -m bench.bench_queue`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.queue_summary import build_queue
from bench.bench_claim import Q, load_queries_from
from bot import render
from core.clock import ManualClock, utc_iso
from core.config import Settings
from core.deps.service import DependencyService
from core.lessons.journal import LessonJournal
from core.pipeline.service import PipelineService
from core.pipeline.tasks import Actor
from core.ports import NotifierHub
from core.queue_view import QueueService
from storage.database import Database
from storage.dependencies import SqliteDependencyStore
from storage.lessons import SqliteLessonStore
from storage.tasks import SqliteTaskStore

T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
ROLES = {"development": "developer", "review": "reviewer", "testing": "tester",
         "merge": "deployer", "deploy": "deployer"}
# open tasks per stage (8,554 in all), the rest done or cancelled
SPREAD = {"queued": 1500, "development": 3200, "review": 1800, "testing": 1100,
          "merge": 554, "deploy": 300, "blocked": 100}
OPS = Actor("bench", "ops")


def plan(total: int, rng: random.Random) -> list[tuple[object, ...]]:
    stages = [s for s, n in SPREAD.items() for _ in range(n)]
    stages += ["done"] * (total - len(stages) - 300) + ["cancelled"] * 300
    rng.shuffle(stages)
    rows = []
    for i, stage in enumerate(stages, start=1):
        at = utc_iso(T0 + timedelta(seconds=rng.randrange(86_400)))
        blocked_from = "development" if stage == "blocked" else None
        reason = "agent timed out 3 of 3 tries" if stage == "blocked" else None
        rows.append((i, f"B-{i}", f"repo{i % 7}", f"task number {i}", stage, blocked_from,
                     reason, at, at, at))
    return rows


async def seed(path: Path, total: int, rng: random.Random) -> None:
    db = await Database.open(path)
    tasks = plan(total, rng)
    at = utc_iso(T0)
    jobs, runs = [], []
    for task_id, _, repo, _, stage, *_ in tasks:
        if stage not in ROLES:
            continue
        running = len(runs) < 2
        backoff = not running and rng.random() < 0.05
        due = T0 + timedelta(days=2 if backoff else 0, seconds=rng.randrange(3600))
        jobs.append((len(jobs) + 1, task_id, stage, ROLES[str(stage)], repo,
                     "running" if running else "queued", "bench:1:0" if running else None,
                     1 if running else 0, 1 if backoff else 0, utc_iso(due), at, at))
        if running:
            runs.append((len(jobs), task_id, stage, at, at))
    open_ids = [t[0] for t in tasks if t[4] not in ("done", "cancelled")]
    deps = {(task, rng.choice(open_ids if rng.random() < 0.5 else range(1, total + 1)))
            for task in rng.sample(open_ids, 1000)}
    lessons = [(at, rng.choice(("gate_failure", "transient_retry", "merge_hold")),
                f"B-{rng.randrange(1, total)}", "review", f"repo{n % 7}",
                rng.choice(("new", "in_progress", "closed")), "bench lesson")
               for n in range(1000)]
    async with db.transaction() as tx:
        await tx.execute_many(Q["insert_task"], tasks)
        await tx.execute_many(Q["insert_job"], jobs)
        await tx.execute_many(Q["insert_run"], runs)
        await tx.execute_many(Q["insert_dep"], [(t, d, at) for t, d in deps if t != d])
        await tx.execute_many(Q["insert_lesson"], lessons)
    await db.fetch_one(Q["checkpoint"])
    await db.close()


async def timed(queue: QueueService, *, fresh: bool = False) -> tuple[float, str]:
    started = time.perf_counter()
    summary = await queue.summary(fresh=fresh)
    render.queue(summary.view, summary.stale_for)
    return (time.perf_counter() - started) * 1000, summary.status


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def main(total: int, calls: int, rounds: int) -> None:
    Q.update(load_queries_from(Path(__file__).with_suffix(".sql")))
    with tempfile.TemporaryDirectory(prefix="orch-bench-") as tmp:
        path = Path(tmp) / "queue.db"
        started = time.perf_counter()
        await seed(path, total, random.Random(42))
        print(f"seeded {total} tasks in {time.perf_counter() - started:.1f} s")
        db = await Database.open(path)
        try:
            await measure(db, calls, rounds)
        finally:
            await db.close()


async def measure(db: Database, calls: int, rounds: int) -> None:
    clock = ManualClock(T0 + timedelta(hours=30))
    settings = Settings(approvers=frozenset({111, 222}))
    hub = NotifierHub()
    pipeline = PipelineService(SqliteTaskStore(db), settings.pipeline, clock, hub)
    deps = DependencyService(SqliteDependencyStore(db), pipeline, clock)
    queue = build_queue(settings, clock, db, pipeline,
                        LessonJournal(SqliteLessonStore(db), clock), deps)
    await timed(queue, fresh=True)  # warm SQLite's page cache, not ours
    cold = [(await timed(queue, fresh=True))[0] for _ in range(calls)]
    cached = []
    for _ in range(calls):
        ms, status = await timed(queue)
        assert status == "hit", status
        cached.append(ms)
    stale, after = await changes(queue, pipeline, rounds)
    view = (await queue.summary()).view
    print(f"open tasks: {view.active_count} active, {view.blocked_count} blocked")
    for name, values in (("cold (rebuilt)", cold), ("cached (hit)", cached),
                         ("stale after a change", stale), ("next after refresh", after)):
        print(f"{name:>22}: p50 {p(values, 50):7.2f} ms   p95 {p(values, 95):7.2f} ms"
              f"   ({len(values)} calls)")
    print(f"cold/cached: p50 {p(cold, 50) / p(cached, 50):.0f}x, "
          f"p95 {p(cold, 95) / p(cached, 95):.0f}x")
    print(f"sections built: {dict(queue.cache.builds)}")
    await queue.cache.aclose()


async def changes(queue: QueueService, pipeline: PipelineService,
                  rounds: int) -> tuple[list[float], list[float]]:
    """Block a task, ask (stale), let the refresh finish, ask again (fresh and a hit)."""
    stale, after = [], []
    victims = [t for t in await pipeline.open_tasks() if t.stage == "development"][:rounds]
    for task in victims:
        await pipeline.block(task.id, OPS, "bench")
        ms, status = await timed(queue)
        assert status == "stale", status
        stale.append(ms)
        await queue.cache.wait_refreshed()
        ms, status = await timed(queue)
        assert status == "hit", status
        after.append(ms)
        assert (await queue.summary()).view.blocked_count > 100
    return stale, after


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.calls, args.rounds))


if __name__ == "__main__":
    cli()
