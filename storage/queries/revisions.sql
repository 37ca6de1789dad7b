-- name: all_revisions
SELECT name, value FROM revisions
