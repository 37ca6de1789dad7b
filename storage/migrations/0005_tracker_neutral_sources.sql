-- A tracker is a configured source, not the literal 'plane': a dependency's source is
-- 'local' (declared in the chat) or a tracker adapter's name, so the constraint names a
-- form (a short lowercase word) instead of a tracker. SQLite cannot change a CHECK in
-- place: the table is rebuilt with its rows and indexes.

CREATE TABLE task_deps_new (
    task_id      INTEGER NOT NULL REFERENCES tasks (id),
    depends_on   INTEGER NOT NULL REFERENCES tasks (id),
    source       TEXT    NOT NULL DEFAULT 'local'
                 CHECK (length(source) BETWEEN 1 AND 32 AND source NOT GLOB '*[^a-z0-9_]*'),
    created_at   TEXT    NOT NULL,
    -- when the depended-on task was seen done: the dependent is released exactly once
    satisfied_at TEXT,
    PRIMARY KEY (task_id, depends_on),
    CHECK (task_id != depends_on)
);

INSERT INTO task_deps_new (task_id, depends_on, source, created_at, satisfied_at)
SELECT task_id, depends_on, source, created_at, satisfied_at FROM task_deps;

DROP TABLE task_deps;

ALTER TABLE task_deps_new RENAME TO task_deps;

CREATE INDEX task_deps_reverse ON task_deps (depends_on);
CREATE INDEX task_deps_unsatisfied ON task_deps (depends_on) WHERE satisfied_at IS NULL;
