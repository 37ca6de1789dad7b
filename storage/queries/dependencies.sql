-- name: insert_dep
-- An edge to a task that is done already is satisfied from the start: nothing waits.
INSERT INTO task_deps (task_id, depends_on, source, created_at, satisfied_at)
SELECT :task_id, :depends_on, :source, :at,
       CASE WHEN (SELECT stage FROM tasks WHERE id = :depends_on) = 'done' THEN :at END
WHERE true  -- an INSERT ... SELECT needs a WHERE before an upsert clause
ON CONFLICT (task_id, depends_on) DO NOTHING
RETURNING task_id

-- name: delete_dep
DELETE FROM task_deps WHERE task_id = :task_id AND depends_on = :depends_on
RETURNING task_id

-- name: deps_from_source
SELECT depends_on FROM task_deps WHERE task_id = :task_id AND source = :source

-- name: delete_dep_from_source
DELETE FROM task_deps
WHERE task_id = :task_id AND depends_on = :depends_on AND source = :source
RETURNING task_id

-- name: depends_on
SELECT t.id, t.key, t.stage, d.source
FROM task_deps d JOIN tasks t ON t.id = d.depends_on
WHERE d.task_id = :task_id
ORDER BY t.key

-- name: dependents
SELECT t.id, t.key, t.stage, d.source
FROM task_deps d JOIN tasks t ON t.id = d.task_id
WHERE d.depends_on = :task_id
ORDER BY t.key

-- name: all_edges
SELECT task_id, depends_on FROM task_deps

-- name: satisfy_done
-- Edges whose depended-on task became done since the last call; each is returned once.
UPDATE task_deps SET satisfied_at = :at
WHERE satisfied_at IS NULL
  AND EXISTS (SELECT 1 FROM tasks a WHERE a.id = task_deps.depends_on AND a.stage = 'done')
RETURNING task_id, depends_on

-- name: unmet_count
SELECT (SELECT count(*) FROM task_deps d JOIN tasks a ON a.id = d.depends_on
        WHERE d.task_id = :task_id AND a.stage != 'done')
     + (SELECT count(*) FROM task_item_deps x
        WHERE x.task_id = :task_id AND x.released_at IS NULL)

-- name: task_key
SELECT key FROM tasks WHERE id = :id

-- name: unmet_of_tasks
-- The dependencies not yet done of the given tasks (a JSON array of ids), in key order:
-- tasks, and tracker items without a task (not yet in a releasing group).
SELECT task_id, key FROM (
    SELECT d.task_id, a.key
    FROM task_deps d JOIN tasks a ON a.id = d.depends_on
    WHERE d.task_id IN (SELECT value FROM json_each(:ids)) AND a.stage != 'done'
    UNION ALL
    SELECT x.task_id, x.item_key AS key
    FROM task_item_deps x
    WHERE x.task_id IN (SELECT value FROM json_each(:ids)) AND x.released_at IS NULL
)
ORDER BY task_id, key

-- name: item_deps_of_task
SELECT item_id FROM task_item_deps WHERE task_id = :task_id

-- name: upsert_item_dep
-- A blocker already in a releasing group is met from the start: nothing waits or is told.
INSERT INTO task_item_deps (task_id, item_id, item_key, item_group, created_at,
                            released_at, reported_at)
VALUES (:task_id, :item_id, :item_key, :item_group, :at,
        CASE WHEN :released THEN :at END, CASE WHEN :released THEN :at END)
ON CONFLICT (task_id, item_id) DO UPDATE SET
    item_key = excluded.item_key,
    item_group = excluded.item_group,
    released_at = CASE WHEN :released THEN coalesce(released_at, :at) END,
    reported_at = CASE WHEN :released THEN reported_at END
RETURNING task_id

-- name: delete_item_dep
DELETE FROM task_item_deps WHERE task_id = :task_id AND item_id = :item_id

-- name: open_item_blockers
SELECT DISTINCT item_id FROM task_item_deps WHERE released_at IS NULL

-- name: item_moved
UPDATE task_item_deps
SET item_group = :item_group,
    released_at = CASE WHEN :released THEN coalesce(released_at, :at) END,
    reported_at = CASE WHEN :released THEN reported_at END
WHERE item_id = :item_id

-- name: report_released_items
-- Item edges released since the last call; each is returned once.
UPDATE task_item_deps SET reported_at = :at
WHERE released_at IS NOT NULL AND reported_at IS NULL
RETURNING task_id, item_key
