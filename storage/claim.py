"""The claim: the oldest runnable job taken and its run opened, in one transaction that
crosses to the database thread once.

Its cost does not grow with the jobs that wait. A job's unmet dependencies are counted
in `jobs.unmet_deps`, kept by triggers in the same transaction as every edge added or
removed and every depended-on task reaching or leaving done (migration 0010), and the
ready jobs sit in a partial index in claim order. So the claim reads the running jobs
(a handful: at most the global limit), then the first entry of that index whose repo,
stage and role are under their limits, and writes two rows. A job that waits never
holds a slot because it is never in the index.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from core.jobs.model import ClaimLimits
from storage.queries import queries

Q = queries("jobs")


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    owner: str
    at: str  # ISO time, as stored
    limits: ClaimLimits

    def __call__(self, conn: sqlite3.Connection) -> tuple[sqlite3.Row, sqlite3.Row] | None:
        """Runs on the database thread inside BEGIN IMMEDIATE (Database.call)."""
        limits = self.limits
        running = conn.execute(Q["running_count"]).fetchone()[0]
        if running >= limits.max_running:
            return None
        full: tuple[set[str], set[str], set[str]] = (set(), set(), set())
        if limits.partitioned:
            load = conn.execute(Q["running_load"]).fetchall() if running else []
            full = limits.full([(row[0], row[1], row[2]) for row in load])
        repos, stages, roles = (json.dumps(sorted(names)) for names in full)
        query = Q["claim_ready"] if limits.deps_enabled else Q["claim_queued"]
        params = {"owner": self.owner, "at": self.at, "full_repos": repos,
                  "full_stages": stages, "full_roles": roles}
        job = conn.execute(query, params).fetchone()
        if job is None:
            return None
        run = conn.execute(Q["insert_run"], {
            "job_id": job["id"], "task_id": job["task_id"], "stage": job["stage"],
            "role": job["role"], "attempt": job["attempts"], "owner": self.owner,
            "at": self.at,
        }).fetchone()
        return job, run
