-- Tasks, their audit trail, the chat cards that show them, and small cursors.

CREATE TABLE tasks (
    id               INTEGER PRIMARY KEY,
    key              TEXT    NOT NULL UNIQUE,
    repo             TEXT    NOT NULL,
    title            TEXT    NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    branch           TEXT    NOT NULL DEFAULT '',
    stage            TEXT    NOT NULL,
    blocked_from     TEXT,
    reason           TEXT,
    version          INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
    tracker_id       TEXT,
    source           TEXT    NOT NULL DEFAULT 'manual',
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    stage_entered_at TEXT    NOT NULL,
    -- a blocked task always knows where it goes back to, and only a blocked one does
    CHECK ((stage = 'blocked') = (blocked_from IS NOT NULL))
);

-- one task per tracker item
CREATE UNIQUE INDEX tasks_tracker_id ON tasks (tracker_id) WHERE tracker_id IS NOT NULL;
CREATE INDEX tasks_stage ON tasks (stage, stage_entered_at);

CREATE TABLE task_events (
    id         INTEGER PRIMARY KEY,
    task_id    INTEGER NOT NULL REFERENCES tasks (id),
    at         TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    from_stage TEXT,
    to_stage   TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    reason     TEXT
);

-- every version of a task has exactly one event that explains it
CREATE UNIQUE INDEX task_events_task_version ON task_events (task_id, version);

CREATE TABLE chat_cards (
    task_id      INTEGER PRIMARY KEY REFERENCES tasks (id),
    chat_id      INTEGER NOT NULL,
    message_id   INTEGER NOT NULL,
    shown_version INTEGER NOT NULL,
    content_hash TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL
);

CREATE UNIQUE INDEX chat_cards_message ON chat_cards (chat_id, message_id);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TABLE cursors (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
