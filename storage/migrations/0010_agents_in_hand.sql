-- Agents in hand: a claim that reads one index entry however many jobs wait, runs that
-- can be cancelled when their task moves, and what every run cost.

-- 1. Unmet dependencies, counted per open job and kept in the same transaction as every
-- change that can alter them: an edge added or removed, a depended-on task reaching or
-- leaving done. Triggers do it, so no writer can forget. Terminal jobs keep the count
-- they had when they closed; only open (queued, running) jobs are maintained.
ALTER TABLE jobs ADD COLUMN unmet_deps INTEGER NOT NULL DEFAULT 0 CHECK (unmet_deps >= 0);

UPDATE jobs SET unmet_deps = (
    SELECT count(*) FROM task_deps d JOIN tasks a ON a.id = d.depends_on
    WHERE d.task_id = jobs.task_id AND a.stage != 'done')
WHERE status IN ('queued', 'running');

CREATE TRIGGER jobs_count_unmet_deps AFTER INSERT ON jobs
BEGIN
    UPDATE jobs SET unmet_deps = (
        SELECT count(*) FROM task_deps d JOIN tasks a ON a.id = d.depends_on
        WHERE d.task_id = NEW.task_id AND a.stage != 'done')
    WHERE id = NEW.id;
END;

CREATE TRIGGER task_deps_added AFTER INSERT ON task_deps
WHEN (SELECT stage FROM tasks WHERE id = NEW.depends_on) IS NOT 'done'
BEGIN
    UPDATE jobs SET unmet_deps = unmet_deps + 1
    WHERE task_id = NEW.task_id AND +status IN ('queued', 'running');
END;

CREATE TRIGGER task_deps_removed AFTER DELETE ON task_deps
WHEN (SELECT stage FROM tasks WHERE id = OLD.depends_on) IS NOT 'done'
BEGIN
    UPDATE jobs SET unmet_deps = unmet_deps - 1
    WHERE task_id = OLD.task_id AND +status IN ('queued', 'running');
END;

-- an edge's ends never change (the counts above would go wrong): remove and add instead
CREATE TRIGGER task_deps_ends_are_fixed BEFORE UPDATE OF task_id, depends_on ON task_deps
BEGIN
    SELECT RAISE(ABORT, 'a dependency edge cannot change its ends');
END;

CREATE TRIGGER tasks_done_changes_unmet AFTER UPDATE OF stage ON tasks
WHEN (OLD.stage = 'done') != (NEW.stage = 'done')
BEGIN
    UPDATE jobs SET unmet_deps = unmet_deps + (CASE WHEN NEW.stage = 'done' THEN -1 ELSE 1 END)
    WHERE +status IN ('queued', 'running')
      AND task_id IN (SELECT task_id FROM task_deps WHERE depends_on = NEW.id);
END;

-- The claim reads the first entry of one of these (deps gate on / off), in claim order,
-- and the running jobs (at most the global limit) from the third. Fewer indexes that a
-- claim rewrites: fewer pages written per claim.
CREATE INDEX jobs_ready ON jobs (not_before, id) WHERE status = 'queued' AND unmet_deps = 0;
CREATE INDEX jobs_queued ON jobs (not_before, id) WHERE status = 'queued';
CREATE INDEX jobs_running ON jobs (repo, stage, role) WHERE status = 'running';
DROP INDEX jobs_claim_order;
DROP INDEX jobs_running_by_repo;

-- 2. Runs: a run can end `cancelled` (its task left the stage), and records its effort.
-- SQLite cannot alter a CHECK, so the table is rebuilt with its indexes and triggers.
CREATE TABLE runs_v10 (
    id           INTEGER PRIMARY KEY,
    job_id       INTEGER NOT NULL REFERENCES jobs (id),
    task_id      INTEGER NOT NULL REFERENCES tasks (id),
    stage        TEXT    NOT NULL,
    attempt      INTEGER NOT NULL CHECK (attempt >= 1),
    status       TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    owner        TEXT    NOT NULL,
    started_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    completed_at TEXT,
    exit_code    INTEGER,
    duration_s   REAL,
    error        TEXT,
    log_path     TEXT,
    result       TEXT,
    -- 0008: the agent's process group and its leader's start time
    process_group   INTEGER,
    process_started INTEGER,
    role         TEXT,
    cpu_s        REAL    CHECK (cpu_s >= 0),
    tokens_in    INTEGER CHECK (tokens_in >= 0),
    tokens_out   INTEGER CHECK (tokens_out >= 0),
    cost         REAL    CHECK (cost >= 0),
    model        TEXT,
    CHECK ((status IN ('succeeded', 'failed', 'cancelled')) = (completed_at IS NOT NULL))
);

INSERT INTO runs_v10 (id, job_id, task_id, stage, attempt, status, owner, started_at,
                      updated_at, completed_at, exit_code, duration_s, error, log_path, result,
                      process_group, process_started, role)
SELECT r.id, r.job_id, r.task_id, r.stage, r.attempt, r.status, r.owner, r.started_at,
       r.updated_at, r.completed_at, r.exit_code, r.duration_s, r.error, r.log_path, r.result,
       r.process_group, r.process_started, (SELECT role FROM jobs WHERE jobs.id = r.job_id)
FROM runs r;

DROP TABLE runs;
ALTER TABLE runs_v10 RENAME TO runs;

CREATE UNIQUE INDEX runs_one_open_per_job ON runs (job_id) WHERE status IN ('pending', 'running');
CREATE INDEX runs_open_by_start ON runs (started_at) WHERE status IN ('pending', 'running');
CREATE INDEX runs_by_job ON runs (job_id, id);
CREATE INDEX runs_by_task_stage ON runs (task_id, stage);
CREATE INDEX runs_by_start ON runs (started_at);

CREATE TRIGGER runs_terminal_is_final BEFORE UPDATE ON runs
WHEN OLD.status IN ('succeeded', 'failed', 'cancelled')
BEGIN
    SELECT RAISE(ABORT, 'run is terminal and cannot change');
END;

CREATE TRIGGER runs_terminal_is_kept BEFORE DELETE ON runs
WHEN OLD.status IN ('succeeded', 'failed', 'cancelled')
BEGIN
    SELECT RAISE(ABORT, 'run is terminal and cannot be deleted');
END;

-- The revision counter of runs (0012_revisions.sql) lives on the table just rebuilt; its
-- triggers are (re)made here the way 0012 makes them, whichever of the two came first.
CREATE TABLE IF NOT EXISTS revisions (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL DEFAULT 0 CHECK (value >= 0)
);
INSERT OR IGNORE INTO revisions (name, value) VALUES ('runs', 0);
CREATE TRIGGER IF NOT EXISTS revisions_runs_insert AFTER INSERT ON runs
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'runs'; END;
CREATE TRIGGER IF NOT EXISTS revisions_runs_update AFTER UPDATE ON runs
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'runs'; END;
