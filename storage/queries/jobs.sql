-- name: insert_job
INSERT INTO jobs (task_id, stage, role, repo, status, not_before, task_version, context,
                  enqueued_at, updated_at)
VALUES (:task_id, :stage, :role, :repo, 'queued', :not_before, :task_version, :context,
        :at, :at)
RETURNING *

-- name: insert_run
INSERT INTO runs (job_id, task_id, stage, role, attempt, status, owner, started_at,
                  updated_at)
VALUES (:job_id, :task_id, :stage, :role, :attempt, 'pending', :owner, :at, :at)
RETURNING *

-- name: mark_running
UPDATE runs SET status = 'running', updated_at = :at
WHERE id = :id AND status = 'pending'

-- name: finish_run
UPDATE runs
SET status = :status, completed_at = :at, updated_at = :at, exit_code = :exit_code,
    duration_s = :duration_s, error = :error, log_path = :log_path, result = :result,
    cpu_s = :cpu_s, tokens_in = :tokens_in, tokens_out = :tokens_out, cost = :cost,
    model = :model
WHERE id = :id AND status IN ('pending', 'running')
RETURNING id

-- name: settle_job
UPDATE jobs
SET status = :status,
    not_before = coalesce(:not_before, not_before),
    transient_attempts = coalesce(:transient_attempts, transient_attempts),
    last_error = :last_error,
    failure = :failure,
    owner = NULL,
    updated_at = :at
WHERE id = :id AND status = 'running'

-- name: cancel_queued
UPDATE jobs SET status = 'cancelled', updated_at = :at
WHERE task_id = :task_id AND status = 'queued'
RETURNING *

-- name: open_job
SELECT * FROM jobs WHERE task_id = :task_id AND status IN ('queued', 'running')

-- name: latest_job
SELECT * FROM jobs WHERE task_id = :task_id AND stage = :stage ORDER BY id DESC LIMIT 1

-- name: get_job
SELECT * FROM jobs WHERE id = :id

-- name: last_run
SELECT * FROM runs WHERE job_id = :job_id ORDER BY id DESC LIMIT 1

-- name: get_run
SELECT * FROM runs WHERE id = :id

-- name: runs_of_job
SELECT * FROM runs WHERE job_id = :job_id ORDER BY id

-- name: find_open_run
SELECT * FROM runs
WHERE task_id = :task_id AND stage = :stage AND status IN ('pending', 'running')
ORDER BY id DESC LIMIT 1

-- name: open_run_owners
SELECT DISTINCT owner FROM runs WHERE status IN ('pending', 'running') ORDER BY owner

-- name: sweep_runs
UPDATE runs SET status = 'failed', error = :reason, completed_at = :at, updated_at = :at
WHERE status IN ('pending', 'running')
  AND owner != :owner
  AND (started_at < :cutoff OR owner IN (SELECT value FROM json_each(:dead)))
RETURNING id, job_id, task_id

-- name: abandoned_processes
-- The runs sweep_runs would fail, with their agents' process groups, to kill first.
SELECT id, owner, process_group, process_started FROM runs
WHERE status IN ('pending', 'running')
  AND process_group IS NOT NULL
  AND owner != :owner
  AND (started_at < :cutoff OR owner IN (SELECT value FROM json_each(:dead)))
ORDER BY id

-- name: record_process
UPDATE runs SET process_group = :group, process_started = :started
WHERE id = :id AND status IN ('pending', 'running')

-- name: requeue_swept_job
-- Guarded by status: a job goes back to the queue once, however often it is swept.
UPDATE jobs SET status = 'queued', not_before = :at, owner = NULL, last_error = :reason,
               updated_at = :at
WHERE id = :id AND status = 'running'
RETURNING id

-- name: queued_in_claim_order
SELECT j.task_id, t.key, j.stage, j.role, j.not_before, j.transient_attempts,
       (j.unmet_deps > 0 OR EXISTS (
           SELECT 1 FROM task_item_deps x
           WHERE x.task_id = j.task_id AND x.released_at IS NULL)) AS waits_for_deps
FROM jobs j INDEXED BY jobs_queued JOIN tasks t ON t.id = j.task_id
WHERE j.status = 'queued' AND t.stage = j.stage
ORDER BY j.not_before, j.id
LIMIT :limit

-- name: running_jobs
SELECT j.task_id, t.key, j.stage, j.role, r.attempt, r.started_at
FROM jobs j
JOIN tasks t ON t.id = j.task_id
JOIN runs r ON r.job_id = j.id AND r.status IN ('pending', 'running')
WHERE j.status = 'running'
ORDER BY r.started_at, j.id

-- name: running_count
SELECT count(*) FROM jobs WHERE status = 'running'

-- name: running_load
SELECT repo, stage, role FROM jobs WHERE status = 'running'

-- name: claim_ready
-- The first job in claim order among the queued ones whose dependencies are all done:
-- one entry of the partial index jobs_ready, however many jobs wait. Its task must still
-- be in the job's stage; repos, stages and roles at their limit are passed in.
UPDATE jobs
SET status = 'running', attempts = attempts + 1, owner = :owner, updated_at = :at
WHERE id = (
    SELECT j.id
    FROM jobs j INDEXED BY jobs_ready JOIN tasks t ON t.id = j.task_id
    WHERE j.status = 'queued' AND j.unmet_deps = 0
      -- a wait for a tracker item without a task (rare: probed by primary key)
      AND NOT EXISTS (SELECT 1 FROM task_item_deps x
                      WHERE x.task_id = j.task_id AND x.released_at IS NULL)
      AND j.not_before <= :at
      AND t.stage = j.stage
      AND j.repo NOT IN (SELECT value FROM json_each(:full_repos))
      AND j.stage NOT IN (SELECT value FROM json_each(:full_stages))
      AND j.role NOT IN (SELECT value FROM json_each(:full_roles))
    ORDER BY j.not_before, j.id
    LIMIT 1
)
RETURNING *

-- name: claim_queued
-- The same with the dependency gate switched off.
UPDATE jobs
SET status = 'running', attempts = attempts + 1, owner = :owner, updated_at = :at
WHERE id = (
    SELECT j.id
    FROM jobs j INDEXED BY jobs_queued JOIN tasks t ON t.id = j.task_id
    WHERE j.status = 'queued'
      AND j.not_before <= :at
      AND t.stage = j.stage
      AND j.repo NOT IN (SELECT value FROM json_each(:full_repos))
      AND j.stage NOT IN (SELECT value FROM json_each(:full_stages))
      AND j.role NOT IN (SELECT value FROM json_each(:full_roles))
    ORDER BY j.not_before, j.id
    LIMIT 1
)
RETURNING *

-- name: job_counts
-- Every open job counted in one pass over a partial index that holds all it reads; a job
-- waits for dependencies when its unmet_deps counter (kept by triggers, read by the claim
-- too) is above 0. A queued job whose task has just left its stage is counted until the
-- stage engine withdraws it, moments later; the claim itself never takes one.
SELECT coalesce(sum(status = 'running'), 0) AS running,
       coalesce(sum(status = 'queued'), 0) AS queued,
       coalesce(sum(status = 'queued' AND :deps_enabled AND (unmet_deps > 0 OR task_id IN (
           SELECT task_id FROM task_item_deps WHERE released_at IS NULL))), 0)
           AS waiting_deps,
       coalesce(sum(status = 'queued' AND NOT (:deps_enabled AND (unmet_deps > 0 OR task_id IN (
           SELECT task_id FROM task_item_deps WHERE released_at IS NULL)))
                    AND not_before > :at), 0) AS backoff,
       min(CASE WHEN status = 'queued' AND not_before > :at THEN not_before END) AS next_due
FROM jobs INDEXED BY jobs_open_line
WHERE status IN ('queued', 'running')

-- name: line_head
-- The first `limit` jobs the claim would take, in its order: the claim's own partial
-- index gives them sorted, so the scan stops early (/queue's "#3 in line").
SELECT j.task_id
FROM jobs j INDEXED BY jobs_ready JOIN tasks t ON t.id = j.task_id
WHERE j.status = 'queued' AND j.unmet_deps = 0 AND j.not_before <= :at
  AND NOT EXISTS (SELECT 1 FROM task_item_deps x
                  WHERE x.task_id = j.task_id AND x.released_at IS NULL)
  AND t.stage = j.stage
ORDER BY j.not_before, j.id
LIMIT :limit

-- name: line_head_without_deps
-- The same with the dependency gate switched off.
SELECT j.task_id
FROM jobs j INDEXED BY jobs_queued JOIN tasks t ON t.id = j.task_id
WHERE j.status = 'queued' AND j.not_before <= :at AND t.stage = j.stage
ORDER BY j.not_before, j.id
LIMIT :limit

-- name: open_jobs_of_tasks
-- The open job of each given task (a JSON array of ids) that is in its task's stage.
SELECT j.task_id, j.status, j.not_before, j.transient_attempts,
       :deps_enabled AND (j.unmet_deps > 0 OR EXISTS (
           SELECT 1 FROM task_item_deps x
           WHERE x.task_id = j.task_id AND x.released_at IS NULL)) AS waits_for_deps
FROM jobs j JOIN tasks t ON t.id = j.task_id
WHERE j.task_id IN (SELECT value FROM json_each(:ids))
  AND j.status IN ('queued', 'running') AND t.stage = j.stage
