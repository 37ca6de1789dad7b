-- What /metrics reads from the database at each scrape: counts, and histograms whose
-- buckets are counted here (the bounds are parameters :b0 .. :b7).

-- name: tasks_by_stage
SELECT stage AS label, count(*) AS n FROM tasks GROUP BY stage

-- name: jobs_by_status
SELECT status AS label, count(*) AS n FROM jobs GROUP BY status

-- name: events_by_kind
SELECT kind AS label, count(*) AS n FROM task_events GROUP BY kind

-- name: merges_by_state
SELECT state AS label, count(*) AS n FROM merges GROUP BY state

-- name: merge_leases_by_state
-- Leases ever taken, by whether they are still held or how they ended.
SELECT CASE WHEN released_at IS NULL THEN 'held' ELSE 'released' END AS label, count(*) AS n
FROM merge_leases GROUP BY label

-- name: lessons_by_type_status
SELECT lesson_type, status, count(*) AS n FROM lessons GROUP BY lesson_type, status

-- name: run_duration_buckets
-- Finished runs by the role of their job, their outcome and duration bucket.
SELECT j.role, r.status, count(*) AS n, sum(r.duration_s) AS total,
       CASE WHEN r.duration_s <= :b0 THEN 0 WHEN r.duration_s <= :b1 THEN 1
            WHEN r.duration_s <= :b2 THEN 2 WHEN r.duration_s <= :b3 THEN 3
            WHEN r.duration_s <= :b4 THEN 4 WHEN r.duration_s <= :b5 THEN 5
            WHEN r.duration_s <= :b6 THEN 6 WHEN r.duration_s <= :b7 THEN 7 ELSE 8 END
           AS bucket
FROM runs r JOIN jobs j ON j.id = r.job_id
WHERE r.status IN ('succeeded', 'failed') AND r.duration_s IS NOT NULL
GROUP BY j.role, r.status, bucket

-- name: claim_latency_buckets
-- How long a job waited from enqueued to its first claim (the first run's start).
SELECT j.role, NULL AS status, count(*) AS n, sum(w.wait_s) AS total,
       CASE WHEN w.wait_s <= :b0 THEN 0 WHEN w.wait_s <= :b1 THEN 1
            WHEN w.wait_s <= :b2 THEN 2 WHEN w.wait_s <= :b3 THEN 3
            WHEN w.wait_s <= :b4 THEN 4 WHEN w.wait_s <= :b5 THEN 5
            WHEN w.wait_s <= :b6 THEN 6 WHEN w.wait_s <= :b7 THEN 7 ELSE 8 END
           AS bucket
FROM (SELECT r.job_id,
             max(0.0, (julianday(r.started_at) - julianday(j.enqueued_at)) * 86400.0) AS wait_s
      FROM runs r JOIN jobs j ON j.id = r.job_id
      WHERE r.attempt = 1) w
JOIN jobs j ON j.id = w.job_id
GROUP BY j.role, bucket
