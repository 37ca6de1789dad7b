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
SELECT count(*) FROM task_deps d JOIN tasks a ON a.id = d.depends_on
WHERE d.task_id = :task_id AND a.stage != 'done'

-- name: task_key
SELECT key FROM tasks WHERE id = :id

-- name: unmet_of_tasks
-- The dependencies not yet done of the given tasks (a JSON array of ids), in key order.
SELECT d.task_id, a.key
FROM task_deps d JOIN tasks a ON a.id = d.depends_on
WHERE d.task_id IN (SELECT value FROM json_each(:ids)) AND a.stage != 'done'
ORDER BY d.task_id, a.key
