-- name: items_of_project
SELECT * FROM tracker_items WHERE project_id = :project_id

-- name: get_item
SELECT * FROM tracker_items WHERE item_id = :item_id

-- name: save_item
INSERT INTO tracker_items (item_id, project_id, key, seen_state_id, seen_updated_at,
                           written_state_id, synced_version, missing_since,
                           missing_checked_at, updated_at)
VALUES (:item_id, :project_id, :key, :seen_state_id, :seen_updated_at,
        :written_state_id, :synced_version, :missing_since, :missing_checked_at, :at)
ON CONFLICT (item_id) DO UPDATE SET
    project_id = excluded.project_id,
    key = excluded.key,
    seen_state_id = excluded.seen_state_id,
    seen_updated_at = excluded.seen_updated_at,
    written_state_id = excluded.written_state_id,
    -- never lowered: a write-back may have moved it past what this reconcile knew
    synced_version = CASE WHEN coalesce(excluded.synced_version, 0) > coalesce(synced_version, 0)
                          THEN excluded.synced_version ELSE synced_version END,
    missing_since = excluded.missing_since,
    missing_checked_at = excluded.missing_checked_at,
    updated_at = excluded.updated_at

-- name: note_written
UPDATE tracker_items
SET written_state_id = :state_id, updated_at = :at,
    synced_version = CASE WHEN :version > coalesce(synced_version, 0) THEN :version
                          ELSE synced_version END
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

-- name: note_synced
UPDATE tracker_items SET synced_version = :version, updated_at = :at
WHERE item_id = :item_id AND coalesce(synced_version, 0) < :version

-- name: mark_missing
UPDATE tracker_items
SET missing_since = coalesce(missing_since, :since),
    missing_checked_at = :checked_at,
    updated_at = :at
WHERE item_id = :item_id

-- name: clear_missing
UPDATE tracker_items SET missing_since = NULL, missing_checked_at = NULL, updated_at = :at
WHERE item_id = :item_id AND missing_since IS NOT NULL
RETURNING item_id

-- name: missing_items
SELECT * FROM tracker_items WHERE missing_since IS NOT NULL ORDER BY missing_since, key

-- name: load_budget
SELECT spent, paused_until FROM rate_budgets WHERE name = :name

-- name: save_budget
INSERT INTO rate_budgets (name, spent, paused_until, updated_at)
VALUES (:name, :spent, :paused_until, :at)
ON CONFLICT (name) DO UPDATE SET
    spent = excluded.spent, paused_until = excluded.paused_until, updated_at = excluded.updated_at
