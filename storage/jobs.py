"""SQLite adapter of core's JobStore, RunStore and JobStats: jobs, runs and claims."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from core.clock import parse_iso, utc_iso
from core.jobs.agents import AgentProcess
from core.jobs.model import (
    Claim,
    ClaimLimits,
    Effort,
    Failure,
    Job,
    JobConflict,
    JobContext,
    JobCounts,
    JobDraft,
    JobsOverview,
    JobStatus,
    JobUpdate,
    LinePlace,
    QueuedJob,
    Run,
    RunEnd,
    RunningJob,
    RunStatus,
    Swept,
)
from core.pipeline.stages import Stage
from storage.claim import ClaimRequest
from storage.database import Database, IntegrityViolation, Tx
from storage.queries import queries

Q = queries("jobs")
OVERVIEW_LIMIT = 200
LINE_HEAD = 500  # places further down the claim line are not numbered


class SqliteJobStore:
    """Jobs and runs in SQLite. The claim (storage/claim.py) opens its run in the same
    transaction, so a claimed job always has an open run to sweep after a crash."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- JobStore ---------------------------------------------------------------------

    async def enqueue(self, draft: JobDraft, at: datetime) -> Job:
        params = {
            "task_id": draft.task_id,
            "stage": draft.stage,
            "role": draft.role,
            "repo": draft.repo,
            "not_before": utc_iso(draft.not_before),
            "task_version": draft.task_version,
            "context": draft.context.to_json(),
            "at": utc_iso(at),
        }
        try:
            async with self._db.transaction() as tx:
                row = await tx.fetch_one(Q["insert_job"], params)
        except IntegrityViolation as exc:
            if "UNIQUE" not in str(exc):
                raise  # e.g. no such task: a bug, not a conflict
            raise JobConflict(f"Task #{draft.task_id} has an open job already.") from exc
        assert row is not None
        return job_from_row(row)

    async def open_job(self, task_id: int) -> Job | None:
        return _job(await self._db.fetch_one(Q["open_job"], {"task_id": task_id}))

    async def latest_job(self, task_id: int, stage: Stage) -> Job | None:
        params = {"task_id": task_id, "stage": stage}
        return _job(await self._db.fetch_one(Q["latest_job"], params))

    async def get_job(self, job_id: int) -> Job | None:
        return _job(await self._db.fetch_one(Q["get_job"], {"id": job_id}))

    async def cancel_queued(self, task_id: int, at: datetime) -> Job | None:
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(Q["cancel_queued"], {"task_id": task_id, "at": utc_iso(at)})
        return _job(row)

    async def finish(
        self, run_id: int, job_id: int, end: RunEnd, update: JobUpdate, at: datetime
    ) -> bool:
        """End the run and settle its job together; False if the run was no longer open
        (swept meanwhile), in which case nothing is written."""
        async with self._db.transaction() as tx:
            row = await tx.fetch_one(Q["finish_run"], _run_end(run_id, end, at))
            if row is None:
                return False
            await tx.execute(Q["settle_job"], _job_update(job_id, update, at))
        return True

    async def last_run(self, job_id: int) -> Run | None:
        return _run(await self._db.fetch_one(Q["last_run"], {"job_id": job_id}))

    # --- RunStore ---------------------------------------------------------------------

    async def claim(self, owner: str, at: datetime, limits: ClaimLimits) -> Claim | None:
        found = await self._db.call(ClaimRequest(owner, utc_iso(at), limits))
        if found is None:
            return None
        job, run = found
        return Claim(job_from_row(job), run_from_row(run))

    async def mark_running(self, run_id: int, at: datetime) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(Q["mark_running"], {"id": run_id, "at": utc_iso(at)})

    async def find_open_run(self, task_id: int, stage: Stage) -> Run | None:
        params = {"task_id": task_id, "stage": stage}
        return _run(await self._db.fetch_one(Q["find_open_run"], params))

    async def get_run(self, run_id: int) -> Run | None:
        return _run(await self._db.fetch_one(Q["get_run"], {"id": run_id}))

    async def runs_of(self, job_id: int) -> list[Run]:
        rows = await self._db.fetch_all(Q["runs_of_job"], {"job_id": job_id})
        return [run_from_row(r) for r in rows]

    async def open_run_owners(self) -> Sequence[str]:
        return [row["owner"] for row in await self._db.fetch_all(Q["open_run_owners"])]

    async def sweep_stale(
        self, *, owner: str, cutoff: datetime, dead_owners: Sequence[str], reason: str,
        at: datetime,
    ) -> Sequence[Swept]:
        params = {
            "owner": owner,
            "cutoff": utc_iso(cutoff),
            "dead": json.dumps(list(dead_owners)),
            "reason": reason,
            "at": utc_iso(at),
        }
        async with self._db.transaction() as tx:
            rows = await tx.fetch_all(Q["sweep_runs"], params)
            return [await _requeue(tx, row, reason, at) for row in rows]

    # --- ProcessLedger, OpenProcesses ----------------------------------------------------

    async def record_process(self, run_id: int, process: AgentProcess) -> None:
        params = {"id": run_id, "group": process.group, "started": process.started}
        async with self._db.transaction() as tx:
            await tx.execute(Q["record_process"], params)

    async def abandoned_processes(
        self, *, owner: str, cutoff: datetime, dead_owners: Sequence[str]
    ) -> Sequence[tuple[int, str, AgentProcess]]:
        params = {"owner": owner, "cutoff": utc_iso(cutoff), "dead": json.dumps(list(dead_owners))}
        rows = await self._db.fetch_all(Q["abandoned_processes"], params)
        return [(row["id"], row["owner"],
                 AgentProcess(row["process_group"], row["process_started"])) for row in rows]

    # --- JobStats ---------------------------------------------------------------------

    async def overview(self, at: datetime, limits: ClaimLimits) -> JobsOverview:
        async with self._db.read() as tx:
            queued = await tx.fetch_all(Q["queued_in_claim_order"], {"limit": OVERVIEW_LIMIT})
            running = await tx.fetch_all(Q["running_jobs"])
        return JobsOverview(
            tuple(_queued(row, limits.deps_enabled) for row in queued),
            tuple(_running(row) for row in running),
        )

    async def counts(self, at: datetime, deps_enabled: bool) -> JobCounts:
        row = await self._db.fetch_one(
            Q["job_counts"], {"at": utc_iso(at), "deps_enabled": int(deps_enabled)})
        assert row is not None
        due = row["next_due"]
        return JobCounts(row["running"], row["queued"], row["waiting_deps"], row["backoff"],
                         parse_iso(due) if due else None)

    async def places(self, task_ids: Collection[int], at: datetime,
                     deps_enabled: bool) -> Sequence[LinePlace]:
        params = {"ids": json.dumps(list(task_ids)), "at": utc_iso(at),
                  "deps_enabled": int(deps_enabled), "limit": LINE_HEAD}
        async with self._db.read() as tx:
            head = await tx.fetch_all(
                Q["line_head" if deps_enabled else "line_head_without_deps"], params)
            rows = await tx.fetch_all(Q["open_jobs_of_tasks"], params)
        place = {row["task_id"]: n for n, row in enumerate(head, start=1)}
        return [LinePlace(row["task_id"], row["status"] == "running",
                          parse_iso(row["not_before"]), row["transient_attempts"],
                          bool(row["waits_for_deps"]), place.get(row["task_id"]))
                for row in rows]

    async def running(self) -> Sequence[RunningJob]:
        return [_running(row) for row in await self._db.fetch_all(Q["running_jobs"])]


async def _requeue(tx: Tx, row: sqlite3.Row, reason: str, at: datetime) -> Swept:
    params = {"id": row["job_id"], "reason": reason, "at": utc_iso(at)}
    requeued = await tx.fetch_one(Q["requeue_swept_job"], params)
    return Swept(row["id"], row["job_id"], row["task_id"], requeued is not None)


def _run_end(run_id: int, end: RunEnd, at: datetime) -> dict[str, Any]:
    return {
        "id": run_id,
        "status": end.status.value,
        "exit_code": end.exit_code,
        "duration_s": end.duration_s,
        "error": end.error,
        "log_path": end.log_path,
        "result": json.dumps(dict(end.result), default=str),
        "at": utc_iso(at),
        **asdict(end.effort),
    }


def _job_update(job_id: int, update: JobUpdate, at: datetime) -> dict[str, Any]:
    return {
        "id": job_id,
        "status": update.status.value,
        "not_before": utc_iso(update.not_before) if update.not_before else None,
        "transient_attempts": update.transient_attempts,
        "last_error": update.last_error,
        "failure": update.failure.value if update.failure else None,
        "at": utc_iso(at),
    }


def _job(row: sqlite3.Row | None) -> Job | None:
    return job_from_row(row) if row is not None else None


def _run(row: sqlite3.Row | None) -> Run | None:
    return run_from_row(row) if row is not None else None


def job_from_row(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        task_id=row["task_id"],
        stage=row["stage"],
        role=row["role"],
        repo=row["repo"],
        status=JobStatus(row["status"]),
        attempts=row["attempts"],
        transient_attempts=row["transient_attempts"],
        not_before=parse_iso(row["not_before"]),
        task_version=row["task_version"],
        enqueued_at=parse_iso(row["enqueued_at"]),
        updated_at=parse_iso(row["updated_at"]),
        context=JobContext.from_json(row["context"]),
        last_error=row["last_error"],
        failure=Failure(row["failure"]) if row["failure"] else None,
        owner=row["owner"],
    )


def run_from_row(row: sqlite3.Row) -> Run:
    completed = row["completed_at"]
    return Run(
        id=row["id"],
        job_id=row["job_id"],
        task_id=row["task_id"],
        stage=row["stage"],
        attempt=row["attempt"],
        status=RunStatus(row["status"]),
        owner=row["owner"],
        started_at=parse_iso(row["started_at"]),
        updated_at=parse_iso(row["updated_at"]),
        completed_at=parse_iso(completed) if completed else None,
        exit_code=row["exit_code"],
        duration_s=row["duration_s"],
        error=row["error"],
        log_path=row["log_path"],
        result=json.loads(row["result"]) if row["result"] else {},
        role=row["role"],
        effort=Effort(row["cpu_s"], row["tokens_in"], row["tokens_out"], row["cost"],
                      row["model"]),
    )


def _queued(row: sqlite3.Row, deps_enabled: bool) -> QueuedJob:
    return QueuedJob(
        task_id=row["task_id"],
        key=row["key"],
        stage=row["stage"],
        role=row["role"],
        not_before=parse_iso(row["not_before"]),
        transient_attempts=row["transient_attempts"],
        waits_for_deps=deps_enabled and bool(row["waits_for_deps"]),
    )


def _running(row: sqlite3.Row) -> RunningJob:
    return RunningJob(
        row["task_id"], row["key"], row["stage"], row["role"], row["attempt"],
        parse_iso(row["started_at"]),
    )
