-- name: current_lease
SELECT holder, host, pid, since, expires_at FROM process_lease WHERE id = 1

-- name: take_lease
-- One compare-and-set: insert, or replace a holder that expired, is us, or is dead.
INSERT INTO process_lease (id, holder, host, pid, since, heartbeat_at, expires_at)
VALUES (1, :holder, :host, :pid, :at, :at, :expires_at)
ON CONFLICT (id) DO UPDATE
SET holder = excluded.holder, host = excluded.host, pid = excluded.pid,
    since = excluded.since, heartbeat_at = excluded.heartbeat_at,
    expires_at = excluded.expires_at
WHERE process_lease.expires_at <= :at
   OR process_lease.holder = :holder
   OR process_lease.holder = :replacing
RETURNING holder

-- name: renew_lease
UPDATE process_lease SET heartbeat_at = :at, expires_at = :expires_at
WHERE id = 1 AND holder = :holder
RETURNING holder

-- name: release_lease
DELETE FROM process_lease WHERE id = 1 AND holder = :holder

-- name: first_delivery
INSERT INTO webhook_deliveries (source, delivery_id, received_at)
VALUES (:source, :delivery_id, :at)
ON CONFLICT (source, delivery_id) DO NOTHING
RETURNING delivery_id

-- name: forget_deliveries
DELETE FROM webhook_deliveries WHERE received_at < :before
