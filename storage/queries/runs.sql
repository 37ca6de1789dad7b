-- Runs as the effort view reads them (core/jobs/effort.py).

-- name: task_totals
SELECT count(*) AS runs, coalesce(sum(duration_s), 0) AS wall_s,
       coalesce(sum(cpu_s), 0) AS cpu_s,
       coalesce(sum(coalesce(tokens_in, 0) + coalesce(tokens_out, 0)), 0) AS tokens,
       sum(cost) AS cost
FROM runs WHERE task_id = :task_id AND completed_at IS NOT NULL

-- name: last_finished_run
SELECT * FROM runs WHERE task_id = :task_id AND completed_at IS NOT NULL
ORDER BY id DESC LIMIT 1

-- name: totals_since
SELECT count(*) AS runs, coalesce(sum(duration_s), 0) AS wall_s,
       coalesce(sum(cpu_s), 0) AS cpu_s,
       coalesce(sum(coalesce(tokens_in, 0) + coalesce(tokens_out, 0)), 0) AS tokens,
       sum(cost) AS cost
FROM runs WHERE started_at >= :since

-- name: costliest_running
SELECT t.key, count(r.id) AS runs, coalesce(sum(r.duration_s), 0) AS wall_s,
       coalesce(sum(r.cpu_s), 0) AS cpu_s,
       coalesce(sum(coalesce(r.tokens_in, 0) + coalesce(r.tokens_out, 0)), 0) AS tokens,
       sum(r.cost) AS cost
FROM jobs j INDEXED BY jobs_running
JOIN tasks t ON t.id = j.task_id
JOIN runs r ON r.task_id = j.task_id AND r.completed_at IS NOT NULL
WHERE j.status = 'running'
GROUP BY j.task_id
ORDER BY coalesce(sum(r.cost), 0) DESC, tokens DESC, wall_s DESC
LIMIT 1

-- name: recent_runs
SELECT r.id, t.key AS task, r.stage, r.role, r.attempt, r.status, r.started_at,
       r.completed_at, r.duration_s AS wall_s, r.cpu_s, r.tokens_in, r.tokens_out, r.cost,
       r.model, r.exit_code, r.error
FROM runs r JOIN tasks t ON t.id = r.task_id
ORDER BY r.id DESC LIMIT :limit
