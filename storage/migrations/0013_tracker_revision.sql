-- Why a task waits on the tracker (missing in it, its project's sync paused) is cached
-- with /queue: a 'tracker' revision moves in the same transaction as a missing mark or a
-- pause. Only writes that change those move it: a reconcile that saves an item as it was
-- leaves the cache alone. Additive and idempotent (the table may come from 0009 or 0012).
CREATE TABLE IF NOT EXISTS revisions (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL DEFAULT 0 CHECK (value >= 0)
);
INSERT OR IGNORE INTO revisions (name, value) VALUES ('tracker', 0);

CREATE TRIGGER IF NOT EXISTS revisions_tracker_items_insert AFTER INSERT ON tracker_items
WHEN NEW.missing_since IS NOT NULL
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'tracker'; END;
CREATE TRIGGER IF NOT EXISTS revisions_tracker_items_update AFTER UPDATE ON tracker_items
WHEN OLD.missing_since IS NOT NEW.missing_since OR OLD.project_id IS NOT NEW.project_id
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'tracker'; END;
CREATE TRIGGER IF NOT EXISTS revisions_tracker_items_delete AFTER DELETE ON tracker_items
WHEN OLD.missing_since IS NOT NULL
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'tracker'; END;

CREATE TRIGGER IF NOT EXISTS revisions_tracker_pauses_insert AFTER INSERT ON tracker_pauses
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'tracker'; END;
CREATE TRIGGER IF NOT EXISTS revisions_tracker_pauses_update AFTER UPDATE ON tracker_pauses
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'tracker'; END;
CREATE TRIGGER IF NOT EXISTS revisions_tracker_pauses_delete AFTER DELETE ON tracker_pauses
BEGIN UPDATE revisions SET value = value + 1 WHERE name = 'tracker'; END;
