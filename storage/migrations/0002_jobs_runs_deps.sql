-- Jobs (one unit of agent work for a task at a stage), their runs (one row per
-- attempt, append-only once terminal) and task dependencies.

CREATE TABLE jobs (
    id                 INTEGER PRIMARY KEY,
    task_id            INTEGER NOT NULL REFERENCES tasks (id),
    stage              TEXT    NOT NULL,
    role               TEXT    NOT NULL,
    repo               TEXT    NOT NULL,
    status             TEXT    NOT NULL DEFAULT 'queued'
                       CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts           INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    transient_attempts INTEGER NOT NULL DEFAULT 0 CHECK (transient_attempts >= 0),
    not_before         TEXT    NOT NULL,
    task_version       INTEGER NOT NULL,
    context            TEXT,
    last_error         TEXT,
    enqueued_at        TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL
);

-- a task has at most one job that is waiting or running
CREATE UNIQUE INDEX jobs_one_open_per_task ON jobs (task_id)
    WHERE status IN ('queued', 'running');
CREATE INDEX jobs_claim_order ON jobs (status, not_before, id);

CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    job_id       INTEGER NOT NULL REFERENCES jobs (id),
    task_id      INTEGER NOT NULL REFERENCES tasks (id),
    stage        TEXT    NOT NULL,
    attempt      INTEGER NOT NULL CHECK (attempt >= 1),
    status       TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
    owner        TEXT    NOT NULL,
    started_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    completed_at TEXT,
    exit_code    INTEGER,
    duration_s   REAL,
    error        TEXT,
    log_path     TEXT,
    result       TEXT,
    -- a run is finished exactly when it has a completion time
    CHECK ((status IN ('succeeded', 'failed')) = (completed_at IS NOT NULL))
);

-- one open run per job
CREATE UNIQUE INDEX runs_one_open_per_job ON runs (job_id) WHERE status IN ('pending', 'running');
CREATE INDEX runs_open_by_start ON runs (started_at) WHERE status IN ('pending', 'running');

-- append-only once terminal: a retry writes a new run
CREATE TRIGGER runs_terminal_is_final BEFORE UPDATE ON runs
WHEN OLD.status IN ('succeeded', 'failed')
BEGIN
    SELECT RAISE(ABORT, 'run is terminal and cannot change');
END;

CREATE TABLE task_deps (
    task_id    INTEGER NOT NULL REFERENCES tasks (id),
    depends_on INTEGER NOT NULL REFERENCES tasks (id),
    source     TEXT    NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'plane')),
    created_at TEXT    NOT NULL,
    PRIMARY KEY (task_id, depends_on),
    CHECK (task_id != depends_on)
);

CREATE INDEX task_deps_reverse ON task_deps (depends_on);
