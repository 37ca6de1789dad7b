-- The process is safe: a run remembers the process group of its agent (so a restart can
-- kill what a dead orch left running), one orch owns the database (a lease row kept
-- alive by a heartbeat), and webhook deliveries are remembered across restarts.

-- the agent's process group and its leader's start time (Linux clock ticks since boot;
-- NULL elsewhere): with the owner's host, enough to kill the group safely later
ALTER TABLE runs ADD COLUMN process_group INTEGER;
ALTER TABLE runs ADD COLUMN process_started INTEGER;

-- at most one row: the orch that owns this database, until its lease expires
CREATE TABLE process_lease (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    holder       TEXT    NOT NULL,
    host         TEXT    NOT NULL,
    pid          INTEGER NOT NULL CHECK (pid > 0),
    since        TEXT    NOT NULL,
    heartbeat_at TEXT    NOT NULL,
    expires_at   TEXT    NOT NULL,
    CHECK (expires_at > heartbeat_at)
);

-- webhook deliveries already taken, per source ('plane', later 'gitea', ...): a
-- retried delivery is answered "duplicate" and does nothing, restart or not
CREATE TABLE webhook_deliveries (
    source      TEXT NOT NULL CHECK (source != ''),
    delivery_id TEXT NOT NULL CHECK (delivery_id != ''),
    received_at TEXT NOT NULL,
    PRIMARY KEY (source, delivery_id)
) WITHOUT ROWID;

CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (received_at);
