-- name: items_of_project
SELECT * FROM tracker_items WHERE project_id = :project_id

-- name: get_item
SELECT * FROM tracker_items WHERE item_id = :item_id

-- name: save_item
INSERT INTO tracker_items (item_id, project_id, key, seen_state_id, seen_updated_at,
                           written_state_id, updated_at)
VALUES (:item_id, :project_id, :key, :seen_state_id, :seen_updated_at,
        :written_state_id, :at)
ON CONFLICT (item_id) DO UPDATE SET
    project_id = excluded.project_id,
    key = excluded.key,
    seen_state_id = excluded.seen_state_id,
    seen_updated_at = excluded.seen_updated_at,
    written_state_id = excluded.written_state_id,
    updated_at = excluded.updated_at

-- name: note_written
UPDATE tracker_items SET written_state_id = :state_id, updated_at = :at
WHERE item_id = :item_id

-- name: forget_item
DELETE FROM tracker_items WHERE item_id = :item_id

-- name: get_position
SELECT watermark, full_sync_at FROM tracker_projects WHERE project_id = :project_id

-- name: save_position
INSERT INTO tracker_projects (project_id, watermark, full_sync_at, updated_at)
VALUES (:project_id, :watermark, :full_sync_at, :at)
ON CONFLICT (project_id) DO UPDATE SET
    watermark = excluded.watermark,
    full_sync_at = excluded.full_sync_at,
    updated_at = excluded.updated_at
