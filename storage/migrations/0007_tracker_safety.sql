-- The tracker edge made safe: an item that seems gone is marked before anything is
-- cancelled, write-backs are rows that survive a crash, a project's sync can be paused
-- until a person confirms, the request budget outlives a restart, and a task can wait
-- for a tracker item that has no task.

-- the task version the item's state reflects: a task that moved past it owes a write
ALTER TABLE tracker_items ADD COLUMN synced_version INTEGER;
-- first time the item looked gone (a 404, or absent from a complete listing)
ALTER TABLE tracker_items ADD COLUMN missing_since TEXT;
-- the first full resync that found it absent from the listing and 404 on a direct read
ALTER TABLE tracker_items ADD COLUMN missing_checked_at TEXT;

CREATE TABLE IF NOT EXISTS tracker_writebacks (
    id           INTEGER PRIMARY KEY,
    task_id      INTEGER NOT NULL,
    key          TEXT    NOT NULL,
    item_id      TEXT    NOT NULL,
    stage        TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    kind         TEXT    NOT NULL,
    actor        TEXT    NOT NULL,
    reason       TEXT,
    status       TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped')),
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    not_before   TEXT    NOT NULL,
    -- the state part is done: a retry posts only the comment
    state_done   INTEGER NOT NULL DEFAULT 0 CHECK (state_done IN (0, 1)),
    error        TEXT,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    completed_at TEXT,
    CHECK ((status IN ('succeeded', 'failed', 'skipped')) = (completed_at IS NOT NULL))
);

-- one live write-back per move of a task: a replayed event adds nothing; a failed one
-- may be followed by a fresh try
CREATE UNIQUE INDEX IF NOT EXISTS tracker_writebacks_once ON tracker_writebacks (task_id, version)
    WHERE status != 'failed';
CREATE INDEX IF NOT EXISTS tracker_writebacks_open ON tracker_writebacks (not_before, id)
    WHERE status IN ('pending', 'running');

CREATE TRIGGER IF NOT EXISTS tracker_writebacks_terminal_is_final
BEFORE UPDATE ON tracker_writebacks
WHEN OLD.status IN ('succeeded', 'failed', 'skipped')
BEGIN
    SELECT RAISE(ABORT, 'write-back is terminal and cannot change');
END;

CREATE TABLE IF NOT EXISTS tracker_pauses (
    id           INTEGER PRIMARY KEY,
    project_id   TEXT    NOT NULL,
    identifier   TEXT    NOT NULL,
    missing      INTEGER NOT NULL,
    followed     INTEGER NOT NULL,
    created_at   TEXT    NOT NULL,
    confirmed_at TEXT,
    confirmed_by TEXT
);

-- a project is paused at most once at a time
CREATE UNIQUE INDEX IF NOT EXISTS tracker_pauses_open ON tracker_pauses (project_id)
    WHERE confirmed_at IS NULL;

CREATE TABLE IF NOT EXISTS rate_budgets (
    name         TEXT PRIMARY KEY,
    -- JSON array of the ISO times of requests still inside the window
    spent        TEXT NOT NULL,
    paused_until TEXT,
    updated_at   TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS task_item_deps (
    task_id     INTEGER NOT NULL REFERENCES tasks (id),
    item_id     TEXT    NOT NULL,
    item_key    TEXT    NOT NULL,
    item_group  TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    -- the blocker reached a group that releases (completed; cancelled if configured)
    released_at TEXT,
    -- the release was announced: once
    reported_at TEXT,
    PRIMARY KEY (task_id, item_id),
    CHECK (reported_at IS NULL OR released_at IS NOT NULL)
);

CREATE INDEX IF NOT EXISTS task_item_deps_open ON task_item_deps (item_id)
    WHERE released_at IS NULL;
