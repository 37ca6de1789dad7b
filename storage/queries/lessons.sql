-- name: recent_auto_duplicate
SELECT id FROM lessons
WHERE source = 'auto'
  AND lesson_type = :lesson_type
  AND work_item IS :work_item
  AND stage IS :stage
  AND created_at >= :since
LIMIT 1

-- name: insert_lesson
INSERT INTO lessons (created_at, lesson_type, work_item, task_id, stage, agent_role, repo,
                     detail, root_cause, suggestion, related_task, source, attribution,
                     target_repo, target_domain)
VALUES (:at, :lesson_type, :work_item, :task_id, :stage, :agent_role, :repo,
        :detail, :root_cause, :suggestion, :related_task, :source, :attribution,
        :target_repo, :target_domain)
RETURNING id

-- name: list_lessons
SELECT * FROM lessons
WHERE (:lesson_type IS NULL OR lesson_type = :lesson_type)
  AND (:status IS NULL OR status = :status OR (:status = 'open' AND status != 'closed'))
  AND (:repo IS NULL OR repo = :repo)
  AND (:stage IS NULL OR stage = :stage OR (:or_stageless AND stage IS NULL))
  AND (:work_item IS NULL OR work_item = :work_item)
  AND (:since IS NULL OR created_at >= :since)
ORDER BY id DESC
LIMIT :limit

-- name: get_lesson
SELECT * FROM lessons WHERE id = :id

-- name: update_lesson
UPDATE lessons
SET status = coalesce(:status, status),
    attribution = coalesce(:attribution, attribution),
    target_repo = coalesce(:target_repo, target_repo),
    target_domain = coalesce(:target_domain, target_domain),
    related_task = coalesce(:related_task, related_task),
    root_cause = coalesce(:root_cause, root_cause),
    suggestion = coalesce(:suggestion, suggestion),
    version = version + 1,
    updated_at = :at
WHERE id = :id AND (:expected_version IS NULL OR version = :expected_version)

-- name: count_lessons
SELECT lesson_type, status, count(*) AS n FROM lessons
GROUP BY lesson_type, status
