-- Seed data of bench_queue.py: tasks, their open jobs, dependencies, lessons, runs.

-- name: insert_task
INSERT INTO tasks (id, key, repo, title, stage, blocked_from, reason, created_at, updated_at,
                   stage_entered_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)

-- name: insert_job
INSERT INTO jobs (id, task_id, stage, role, repo, status, owner, attempts, transient_attempts,
                  not_before, task_version, enqueued_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)

-- name: insert_run
INSERT INTO runs (job_id, task_id, stage, attempt, status, owner, started_at, updated_at)
VALUES (?, ?, ?, 1, 'running', 'bench:1:0', ?, ?)

-- name: insert_dep
INSERT OR IGNORE INTO task_deps (task_id, depends_on, source, created_at) VALUES (?, ?, 'local', ?)

-- name: insert_lesson
INSERT INTO lessons (created_at, lesson_type, work_item, stage, repo, status, source, detail)
VALUES (?, ?, ?, ?, ?, ?, 'auto', ?)

-- name: checkpoint
PRAGMA wal_checkpoint(TRUNCATE)
