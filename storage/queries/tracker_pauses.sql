-- name: open_pauses
SELECT * FROM tracker_pauses WHERE confirmed_at IS NULL ORDER BY id

-- name: insert_pause
INSERT INTO tracker_pauses (project_id, identifier, missing, followed, created_at)
VALUES (:project_id, :identifier, :missing, :followed, :at)
ON CONFLICT DO NOTHING
RETURNING *

-- name: confirm_pause
UPDATE tracker_pauses SET confirmed_at = :at, confirmed_by = :by
WHERE id = :id AND confirmed_at IS NULL
RETURNING *
