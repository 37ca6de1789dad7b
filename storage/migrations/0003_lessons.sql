-- The lessons journal: one row per thing that went wrong, written by the pipeline (auto)
-- or by people (manual), triaged new -> in_progress -> closed. Additive and idempotent:
-- running it again on a file that already has the table changes nothing.

CREATE TABLE IF NOT EXISTS lessons (
    id            INTEGER PRIMARY KEY,
    created_at    TEXT    NOT NULL,
    -- NULL until someone (or something) changes the lesson after it was written
    updated_at    TEXT,
    -- bumped by every change: chat buttons carry it so a stale card cannot overwrite
    version       INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    lesson_type   TEXT    NOT NULL CHECK (length(lesson_type) BETWEEN 1 AND 40),
    work_item     TEXT,
    -- no foreign key: the journal is a record of the past and must accept any task id
    task_id       INTEGER,
    stage         TEXT,
    agent_role    TEXT,
    repo          TEXT,
    detail        TEXT,
    root_cause    TEXT,
    suggestion    TEXT,
    status        TEXT    NOT NULL DEFAULT 'new'
                  CHECK (status IN ('new', 'in_progress', 'closed')),
    related_task  TEXT,
    source        TEXT    NOT NULL CHECK (source IN ('auto', 'manual')),
    -- attribution is decided later, during triage; all three start out NULL
    attribution   TEXT    CHECK (attribution IS NULL
                                 OR attribution IN ('platform', 'project', 'both')),
    target_repo   TEXT,
    target_domain TEXT
);

-- the de-duplication probe: a recent auto lesson of this type, work item and stage
CREATE INDEX IF NOT EXISTS lessons_auto_dedup
    ON lessons (lesson_type, work_item, stage, created_at) WHERE source = 'auto';
-- what agents are told: the newest open lessons of a repo and stage
CREATE INDEX IF NOT EXISTS lessons_open_by_repo
    ON lessons (repo, stage, id) WHERE status != 'closed';
CREATE INDEX IF NOT EXISTS lessons_by_work_item ON lessons (work_item, id);
CREATE INDEX IF NOT EXISTS lessons_by_type_status ON lessons (lesson_type, status);
