-- What the reconciler remembers about Plane between ticks: the items it follows (those
-- with a task) and how far it has read each project. Additive and idempotent.

CREATE TABLE IF NOT EXISTS tracker_items (
    item_id          TEXT PRIMARY KEY,
    project_id       TEXT NOT NULL,
    key              TEXT NOT NULL,
    -- the item's state and updated_at as the last reconcile saw them
    seen_state_id    TEXT,
    seen_updated_at  TEXT,
    -- the state orch itself set last, until a reconcile has seen it come back
    written_state_id TEXT,
    updated_at       TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS tracker_items_project ON tracker_items (project_id);

CREATE TABLE IF NOT EXISTS tracker_projects (
    project_id   TEXT PRIMARY KEY,
    -- the newest updated_at read so far: the next incremental read stops just below it
    watermark    TEXT,
    full_sync_at TEXT,
    updated_at   TEXT NOT NULL
);
