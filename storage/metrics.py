"""What /metrics reads from SQLite at a scrape: counts and bucketed histograms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from storage.database import Database
from storage.queries import queries

Q = queries("metrics")
RUN_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)
CLAIM_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 3600.0)


@dataclass
class Histogram:
    """Per label set: counts per bucket (the last one is +Inf, not cumulative) and sum."""

    bounds: tuple[float, ...]
    series: dict[tuple[str, ...], tuple[list[int], float]] = field(default_factory=dict)

    def add(self, labels: tuple[str, ...], bucket: int, n: int, total: float) -> None:
        counts, so_far = self.series.setdefault(labels, ([0] * (len(self.bounds) + 1), 0.0))
        counts[bucket] += n
        self.series[labels] = (counts, so_far + total)


@dataclass
class StoredFigures:
    tasks_by_stage: dict[str, int]
    jobs_by_status: dict[str, int]
    events_by_kind: dict[str, int]
    merges_by_state: dict[str, int]
    leases: dict[str, int]
    lessons: dict[tuple[str, str], int]
    run_durations: Histogram
    claim_latency: Histogram


class SqliteMetrics:
    """Every stored figure /metrics shows, read in one go."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def figures(self) -> StoredFigures:
        runs, claims = Histogram(RUN_BUCKETS), Histogram(CLAIM_BUCKETS)
        async with self._db.read() as tx:
            tasks = await tx.fetch_all(Q["tasks_by_stage"])
            jobs = await tx.fetch_all(Q["jobs_by_status"])
            events = await tx.fetch_all(Q["events_by_kind"])
            merges = await tx.fetch_all(Q["merges_by_state"])
            leases = await tx.fetch_all(Q["merge_leases_by_state"])
            lessons = await tx.fetch_all(Q["lessons_by_type_status"])
            for row in await tx.fetch_all(Q["run_duration_buckets"], _bounds(RUN_BUCKETS)):
                runs.add((row["role"], row["status"]), row["bucket"], row["n"], row["total"])
            for row in await tx.fetch_all(Q["claim_latency_buckets"], _bounds(CLAIM_BUCKETS)):
                claims.add((row["role"],), row["bucket"], row["n"], row["total"] or 0.0)
        return StoredFigures(
            _labelled(tasks), _labelled(jobs), _labelled(events), _labelled(merges),
            _labelled(leases), {(r["lesson_type"], r["status"]): int(r["n"]) for r in lessons},
            runs, claims)


def _bounds(bounds: Sequence[float]) -> dict[str, float]:
    return {f"b{i}": bound for i, bound in enumerate(bounds)}


def _labelled(rows: Sequence[object]) -> dict[str, int]:
    return {row["label"]: int(row["n"]) for row in rows}  # type: ignore[index]
