-- name: insert_row
INSERT INTO tracker_writebacks (task_id, key, item_id, stage, version, kind, actor, reason,
                                status, attempts, not_before, created_at, updated_at)
VALUES (:task_id, :key, :item_id, :stage, :version, :kind, :actor, :reason,
        'pending', :attempts, :at, :at, :at)
ON CONFLICT DO NOTHING
RETURNING id

-- name: due_rows
SELECT * FROM tracker_writebacks
WHERE status = 'pending' AND not_before <= :at
ORDER BY id LIMIT :limit

-- name: start_row
UPDATE tracker_writebacks SET status = 'running', updated_at = :at
WHERE id = :id AND status = 'pending'
RETURNING id

-- name: state_done
UPDATE tracker_writebacks SET state_done = 1, updated_at = :at
WHERE id = :id AND status = 'running'

-- name: finish_row
UPDATE tracker_writebacks
SET status = :status, error = :error, updated_at = :at, completed_at = :at
WHERE id = :id AND status = 'running'

-- name: retry_row
UPDATE tracker_writebacks
SET status = 'pending', attempts = attempts + 1, not_before = :not_before, error = :error,
    updated_at = :at
WHERE id = :id AND status = 'running'

-- name: stale_rows
SELECT * FROM tracker_writebacks WHERE status = 'running' ORDER BY id

-- name: later_for_item
SELECT 1 FROM tracker_writebacks
WHERE item_id = :item_id AND id > :id AND status IN ('pending', 'running')
LIMIT 1

-- name: open_for_task
SELECT 1 FROM tracker_writebacks
WHERE task_id = :task_id AND status IN ('pending', 'running')
LIMIT 1

-- name: open_count
SELECT count(*) FROM tracker_writebacks WHERE status IN ('pending', 'running')
