-- Revision counters: each moves in the same transaction as the write that changes what
-- it watches, so a summary built at revision N is current exactly while it reads N.
-- Triggers do the bumping, so no writer can forget it. Additive and idempotent.

CREATE TABLE IF NOT EXISTS revisions (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL DEFAULT 0 CHECK (value >= 0)
);

INSERT OR IGNORE INTO revisions (name, value)
VALUES ('tasks', 0), ('jobs', 0), ('runs', 0), ('deps', 0), ('lessons', 0);

CREATE TRIGGER IF NOT EXISTS revisions_tasks_insert AFTER INSERT ON tasks
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'tasks'; END;
CREATE TRIGGER IF NOT EXISTS revisions_tasks_update AFTER UPDATE ON tasks
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'tasks'; END;
CREATE TRIGGER IF NOT EXISTS revisions_tasks_delete AFTER DELETE ON tasks
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'tasks'; END;

CREATE TRIGGER IF NOT EXISTS revisions_jobs_insert AFTER INSERT ON jobs
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'jobs'; END;
CREATE TRIGGER IF NOT EXISTS revisions_jobs_update AFTER UPDATE ON jobs
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'jobs'; END;
CREATE TRIGGER IF NOT EXISTS revisions_jobs_delete AFTER DELETE ON jobs
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'jobs'; END;

CREATE TRIGGER IF NOT EXISTS revisions_runs_insert AFTER INSERT ON runs
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'runs'; END;
CREATE TRIGGER IF NOT EXISTS revisions_runs_update AFTER UPDATE ON runs
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'runs'; END;

CREATE TRIGGER IF NOT EXISTS revisions_deps_insert AFTER INSERT ON task_deps
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'deps'; END;
CREATE TRIGGER IF NOT EXISTS revisions_deps_update AFTER UPDATE ON task_deps
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'deps'; END;
CREATE TRIGGER IF NOT EXISTS revisions_deps_delete AFTER DELETE ON task_deps
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'deps'; END;

CREATE TRIGGER IF NOT EXISTS revisions_lessons_insert AFTER INSERT ON lessons
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'lessons'; END;
CREATE TRIGGER IF NOT EXISTS revisions_lessons_update AFTER UPDATE ON lessons
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'lessons'; END;
CREATE TRIGGER IF NOT EXISTS revisions_lessons_delete AFTER DELETE ON lessons
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'lessons'; END;

-- /queue counts every open job: a partial index that holds all it reads
CREATE INDEX IF NOT EXISTS jobs_open_line
    ON jobs (task_id, stage, status, not_before, transient_attempts, unmet_deps)
    WHERE status IN ('queued', 'running');
