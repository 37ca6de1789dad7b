-- Seed data, the floor, the naive claim and the phase preparation of bench_claim.py
-- (the real claim is storage's).

-- name: insert_task
INSERT INTO tasks (id, key, repo, title, stage, created_at, updated_at, stage_entered_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)

-- name: insert_job
INSERT INTO jobs (task_id, stage, role, repo, not_before, task_version, enqueued_at, updated_at)
VALUES (?, 'development', 'developer', ?, ?, 1, ?, ?)

-- name: insert_dep
INSERT OR IGNORE INTO task_deps (task_id, depends_on, source, created_at) VALUES (?, ?, 'local', ?)

-- name: floor
-- The trivial write a claim cannot beat: one UPDATE ... RETURNING of one row.
UPDATE jobs SET updated_at = ? WHERE id = ? RETURNING id

-- name: naive_queued
SELECT j.id, j.task_id, j.repo, j.stage, t.stage AS task_stage
FROM jobs j JOIN tasks t ON t.id = j.task_id
WHERE j.status = 'queued' AND j.not_before <= ?
ORDER BY j.not_before, j.id

-- name: naive_deps
SELECT d.task_id, a.stage FROM task_deps d JOIN tasks a ON a.id = d.depends_on

-- name: naive_running
SELECT repo FROM jobs WHERE status = 'running'

-- name: naive_take
UPDATE jobs SET status = 'running', attempts = attempts + 1, owner = ?, updated_at = ?
WHERE id = ? AND status = 'queued'
RETURNING attempts

-- name: naive_open_run
INSERT INTO runs (job_id, task_id, stage, attempt, status, owner, started_at, updated_at)
VALUES (?, ?, 'development', ?, 'pending', ?, ?, ?)

-- name: next_ready
SELECT j.id, j.task_id FROM jobs j INDEXED BY jobs_ready
WHERE j.status = 'queued' AND j.unmet_deps = 0 AND j.not_before <= ?
ORDER BY j.not_before, j.id LIMIT 1

-- name: job_done
UPDATE jobs SET status = 'succeeded', attempts = attempts + 1, updated_at = ? WHERE id = ?

-- name: task_done
UPDATE tasks SET stage = 'done', version = version + 1, updated_at = ? WHERE id = ?

-- name: back_off_ready
-- Every runnable job fails transiently and waits: nothing is left to claim.
UPDATE jobs SET not_before = ? WHERE status = 'queued' AND unmet_deps = 0

-- name: checkpoint
PRAGMA wal_checkpoint(TRUNCATE)
