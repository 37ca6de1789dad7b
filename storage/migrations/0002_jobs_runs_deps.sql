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
    -- the task's version when the job was enqueued: ties the job to one stay in the stage
    task_version       INTEGER NOT NULL,
    context            TEXT,
    last_error         TEXT,
    -- why a failed job failed: the agent failed, the retry budget ran out, or nothing
    -- could run it (no agent configured for its role)
    failure            TEXT    CHECK (failure IN ('permanent', 'retries_spent', 'unrunnable')),
    -- the process that claimed it; set while running only
    owner              TEXT,
    enqueued_at        TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    CHECK ((status = 'failed') = (failure IS NOT NULL)),
    CHECK ((status = 'running') = (owner IS NOT NULL))
);

-- a task has at most one job that is waiting or running
CREATE UNIQUE INDEX jobs_one_open_per_task ON jobs (task_id)
    WHERE status IN ('queued', 'running');
CREATE INDEX jobs_claim_order ON jobs (status, not_before, id);
CREATE INDEX jobs_by_task_stage ON jobs (task_id, stage, id);
-- the per-repo concurrency count reads only the running jobs
CREATE INDEX jobs_running_by_repo ON jobs (repo) WHERE status = 'running';

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
CREATE INDEX runs_by_job ON runs (job_id, id);
CREATE INDEX runs_by_task_stage ON runs (task_id, stage);

-- append-only once terminal: a retry writes a new run
CREATE TRIGGER runs_terminal_is_final BEFORE UPDATE ON runs
WHEN OLD.status IN ('succeeded', 'failed')
BEGIN
    SELECT RAISE(ABORT, 'run is terminal and cannot change');
END;

CREATE TRIGGER runs_terminal_is_kept BEFORE DELETE ON runs
WHEN OLD.status IN ('succeeded', 'failed')
BEGIN
    SELECT RAISE(ABORT, 'run is terminal and cannot be deleted');
END;

CREATE TABLE task_deps (
    task_id      INTEGER NOT NULL REFERENCES tasks (id),
    depends_on   INTEGER NOT NULL REFERENCES tasks (id),
    source       TEXT    NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'plane')),
    created_at   TEXT    NOT NULL,
    -- when the depended-on task was seen done: the dependent is released exactly once
    satisfied_at TEXT,
    PRIMARY KEY (task_id, depends_on),
    CHECK (task_id != depends_on)
);

CREATE INDEX task_deps_reverse ON task_deps (depends_on);
CREATE INDEX task_deps_unsatisfied ON task_deps (depends_on) WHERE satisfied_at IS NULL;
