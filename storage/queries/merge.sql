-- name: release_expired
UPDATE merge_leases SET released_at = :at, release_note = 'expired'
WHERE released_at IS NULL AND expires_at <= :at AND (:repo IS NULL OR repo = :repo)
RETURNING *

-- name: live_lease
SELECT * FROM merge_leases WHERE repo = :repo AND released_at IS NULL

-- name: insert_lease
INSERT INTO merge_leases (repo, task_id, task_key, owner, acquired_at, phase_since, expires_at)
VALUES (:repo, :task_id, :task_key, :owner, :at, :at, :expires_at)
RETURNING *

-- name: adopt_lease
UPDATE merge_leases SET owner = :owner, expires_at = :expires_at
WHERE repo = :repo AND task_id = :task_id AND released_at IS NULL
RETURNING *

-- name: renew_lease
UPDATE merge_leases
SET expires_at = :expires_at,
    phase_since = CASE WHEN :phase IS NOT NULL AND :phase != phase THEN :at ELSE phase_since END,
    phase = coalesce(:phase, phase)
WHERE repo = :repo AND task_id = :task_id AND released_at IS NULL AND expires_at > :at

-- name: release_lease
UPDATE merge_leases SET released_at = :at, release_note = :note
WHERE repo = :repo AND task_id = :task_id AND released_at IS NULL

-- name: held_leases
SELECT * FROM merge_leases WHERE released_at IS NULL AND expires_at > :at ORDER BY repo

-- name: get_merge
SELECT * FROM merges WHERE task_id = :task_id

-- name: insert_merge
INSERT INTO merges (task_id, repo, forge_repo, branch, updated_at)
VALUES (:task_id, :repo, :forge_repo, :branch, :at)
ON CONFLICT (task_id) DO NOTHING

-- name: update_merge
UPDATE merges
SET pr_number = :pr_number, pr_url = :pr_url, seen_sha = :seen_sha,
    pushing_sha = :pushing_sha, tested_sha = :tested_sha, tested_green = :tested_green,
    state = :state, merged_sha = :merged_sha, note = :note, branch = :branch,
    version = version + 1, updated_at = :at
WHERE task_id = :task_id AND version = :version

-- name: merges_by_pr
SELECT * FROM merges WHERE forge_repo = :forge_repo AND (pr_number = :pr_number
    OR branch = :branch)

-- name: record_delivery
INSERT INTO forge_deliveries (delivery, received_at) VALUES (:delivery, :at)
ON CONFLICT (delivery) DO NOTHING
