-- name: create_migrations
-- Which numbered migrations a database holds: numbers are reserved per change, so a
-- lower one may arrive after a higher one was applied (see Database.migrate).
CREATE TABLE IF NOT EXISTS schema_migrations (
    number INTEGER PRIMARY KEY CHECK (number > 0),
    name   TEXT    NOT NULL
)

-- name: applied_migrations
SELECT number FROM schema_migrations ORDER BY number

-- name: record_migration
INSERT INTO schema_migrations (number, name) VALUES (:number, :name)
