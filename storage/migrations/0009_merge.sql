-- The merge gate: one lease per repository, what the gate knows of each task's branch
-- and pull request, and the forge webhook deliveries already seen.

CREATE TABLE merge_leases (
    id           INTEGER PRIMARY KEY,
    repo         TEXT    NOT NULL,
    task_id      INTEGER NOT NULL REFERENCES tasks (id),
    task_key     TEXT    NOT NULL,
    -- the process that holds it (a dead one's lease expires or is taken over)
    owner        TEXT    NOT NULL,
    -- what the holder is doing, for the card and /queue: rebasing, re-testing, merging
    phase        TEXT    NOT NULL DEFAULT 'acquired',
    acquired_at  TEXT    NOT NULL,
    phase_since  TEXT    NOT NULL,
    expires_at   TEXT    NOT NULL,
    released_at  TEXT,
    release_note TEXT,
    CHECK (expires_at >= acquired_at),
    CHECK ((released_at IS NULL) = (release_note IS NULL))
);

-- one holder per repository: at most one lease that is not released
CREATE UNIQUE INDEX merge_leases_one_holder ON merge_leases (repo) WHERE released_at IS NULL;
CREATE INDEX merge_leases_live_by_expiry ON merge_leases (expires_at) WHERE released_at IS NULL;

CREATE TABLE merges (
    task_id      INTEGER PRIMARY KEY REFERENCES tasks (id),
    repo         TEXT    NOT NULL,
    forge_repo   TEXT    NOT NULL,
    branch       TEXT    NOT NULL,
    pr_number    INTEGER,
    pr_url       TEXT,
    -- the branch's SHA on the forge as orch last pushed or adopted it: the lease of
    -- every force push, so a branch a person moved is never overwritten
    seen_sha     TEXT,
    -- a push orch is about to make: a crash between push and record is recognised
    pushing_sha  TEXT,
    -- the SHA the last re-test ran on, and how it went
    tested_sha   TEXT,
    tested_green INTEGER CHECK (tested_green IN (0, 1)),
    state        TEXT    NOT NULL DEFAULT 'open'
                 CHECK (state IN ('open', 'merging', 'merged', 'held')),
    merged_sha   TEXT,
    note         TEXT,
    version      INTEGER NOT NULL DEFAULT 1,
    updated_at   TEXT    NOT NULL,
    CHECK ((state = 'merged') = (merged_sha IS NOT NULL))
);

CREATE INDEX merges_by_pr ON merges (forge_repo, pr_number);

CREATE TABLE forge_deliveries (
    delivery    TEXT PRIMARY KEY,
    received_at TEXT NOT NULL
);

-- /queue and the cards are cached per revision (see 0012_revisions.sql, which may land
-- before or after this file: both create the table the same way, if missing).
CREATE TABLE IF NOT EXISTS revisions (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL DEFAULT 0 CHECK (value >= 0)
);
INSERT OR IGNORE INTO revisions (name, value) VALUES ('merge', 0);

CREATE TRIGGER IF NOT EXISTS revisions_merge_leases_insert AFTER INSERT ON merge_leases
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'merge'; END;
CREATE TRIGGER IF NOT EXISTS revisions_merge_leases_update AFTER UPDATE ON merge_leases
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'merge'; END;
CREATE TRIGGER IF NOT EXISTS revisions_merges_insert AFTER INSERT ON merges
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'merge'; END;
CREATE TRIGGER IF NOT EXISTS revisions_merges_update AFTER UPDATE ON merges
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'merge'; END;
