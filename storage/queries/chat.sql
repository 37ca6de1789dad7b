-- name: outbox_add
INSERT INTO chat_outbox (kind, chat_id, task_id, reply_to, edit_message_id, body, markup,
                         lesson_id, version, created_at)
VALUES (:kind, :chat_id, :task_id, :reply_to, :edit_message_id, :body, :markup,
        :lesson_id, :version, :at)
RETURNING id

-- name: outbox_add_once
INSERT INTO chat_outbox (kind, chat_id, body, reply_to, created_at)
SELECT :kind, :chat_id, :body, :reply_to, :at
WHERE NOT EXISTS (SELECT 1 FROM chat_outbox
                  WHERE kind = :kind AND chat_id = :chat_id AND created_at > :since)
RETURNING id

-- name: outbox_open
SELECT o.*, e.at AS e_at, e.actor AS e_actor, e.kind AS e_kind, e.from_stage AS e_from,
       e.to_stage AS e_to, e.reason AS e_reason, t.key AS e_key
FROM chat_outbox o
LEFT JOIN task_events e ON e.id = o.event_id
LEFT JOIN tasks t ON t.id = e.task_id
WHERE o.state IN ('pending', 'sending')
ORDER BY o.id
LIMIT :limit

-- name: outbox_open_count
SELECT count(*) FROM chat_outbox WHERE state IN ('pending', 'sending')

-- name: outbox_suspects
SELECT o.*, NULL AS e_at, NULL AS e_actor, NULL AS e_kind, NULL AS e_from, NULL AS e_to,
       NULL AS e_reason, NULL AS e_key
FROM chat_outbox o WHERE o.state = 'sending' ORDER BY o.id

-- name: outbox_reopen_suspects
UPDATE chat_outbox
SET state = CASE WHEN kind = 'card' THEN 'failed' ELSE 'pending' END, suspect = 1
WHERE state = 'sending'

-- name: outbox_begin
UPDATE chat_outbox SET state = 'sending', attempts = attempts + 1
WHERE id = :id AND state = 'pending'

-- name: outbox_begin_card
INSERT INTO chat_outbox (kind, task_id, version, state, attempts, created_at)
VALUES ('card', :task_id, :version, 'sending', 1, :at)
RETURNING id

-- name: outbox_sent
UPDATE chat_outbox
SET state = 'sent', message_id = :message_id, sent_at = :at, live_buttons = :live,
    not_before = NULL
WHERE id = :id AND state = 'sending'

-- name: outbox_reopen
UPDATE chat_outbox
SET state = CASE WHEN :give_up THEN 'failed' ELSE 'pending' END, not_before = :not_before
WHERE id = :id AND state = 'sending'

-- name: outbox_skip
UPDATE chat_outbox SET state = 'skipped' WHERE id = :id AND state = 'pending'

-- name: outbox_fold
UPDATE chat_outbox SET state = 'folded', folded_into = :digest
WHERE id = :id AND state = 'pending'

-- name: outbox_add_digest
INSERT INTO chat_outbox (kind, body, created_at) VALUES ('digest', :body, :at)
RETURNING id

-- name: spend
INSERT INTO chat_sends (at) VALUES (:at)

-- name: forget_old_sends
DELETE FROM chat_sends WHERE at < :before

-- name: sends_since
SELECT at FROM chat_sends WHERE at > :since ORDER BY at

-- name: put_mark
INSERT INTO chat_push_marks (task_id, kind, stage) VALUES (:task_id, :kind, :stage)
ON CONFLICT (task_id) DO UPDATE SET kind = excluded.kind, stage = excluded.stage

-- name: marks
SELECT task_id, kind, stage FROM chat_push_marks

-- name: retirements
SELECT o.*, e.at AS e_at, e.actor AS e_actor, e.kind AS e_kind, e.from_stage AS e_from,
       e.to_stage AS e_to, e.reason AS e_reason, t.key AS e_key,
       n.id AS n_id, n.at AS n_at, n.actor AS n_actor, n.kind AS n_kind,
       n.from_stage AS n_from, n.to_stage AS n_to, n.reason AS n_reason, n.version AS n_version,
       p.name AS who
FROM chat_outbox o
JOIN tasks t ON t.id = o.task_id
JOIN task_events e ON e.id = o.event_id
LEFT JOIN task_events n ON n.task_id = o.task_id AND n.version = o.version + 1
LEFT JOIN chat_people p ON n.actor = 'telegram:' || p.user_id
WHERE o.live_buttons = 1 AND t.version > o.version
ORDER BY o.id
LIMIT :limit

-- name: retired
UPDATE chat_outbox SET live_buttons = 0 WHERE id = :id

-- name: lesson_retirements
-- Lesson cards still offering buttons for a version of their lesson that is gone.
SELECT o.*, l.status AS l_status, coalesce(l.updated_at, l.created_at) AS l_at
FROM chat_outbox o INDEXED BY chat_outbox_live_lessons
LEFT JOIN lessons l ON l.id = o.lesson_id
WHERE o.live_buttons = 1 AND o.lesson_id IS NOT NULL
  AND (l.id IS NULL OR l.version > o.version)
ORDER BY o.id
LIMIT :limit

-- name: lesson_shown
-- The card at this message was edited to show the lesson at `version`: it stays live.
UPDATE chat_outbox SET version = :version
WHERE lesson_id = :lesson_id AND message_id = :message_id AND live_buttons = 1

-- name: count
INSERT INTO counters (name, value) VALUES (:name, :n)
ON CONFLICT (name) DO UPDATE SET value = value + :n

-- name: counters
SELECT name, value FROM counters WHERE name LIKE 'chat.%'

-- name: card_get
SELECT task_id, message_id, shown_version, content_hash FROM chat_cards WHERE task_id = :task_id

-- name: card_save
INSERT INTO chat_cards (task_id, chat_id, message_id, shown_version, content_hash, updated_at)
VALUES (:task_id, 0, :message_id, :shown_version, :content_hash, :at)
ON CONFLICT (task_id) DO UPDATE SET
    message_id = excluded.message_id,
    shown_version = excluded.shown_version,
    content_hash = excluded.content_hash,
    updated_at = excluded.updated_at

-- name: cards_changed
SELECT t.id FROM tasks t LEFT JOIN chat_cards c ON c.task_id = t.id
WHERE c.task_id IS NULL OR c.shown_version < t.version
ORDER BY t.id
LIMIT :limit

-- name: inbox_put
INSERT INTO chat_inbox (update_id, payload, received_at) VALUES (:update_id, :payload, :at)
ON CONFLICT (update_id) DO NOTHING

-- name: person_put
INSERT INTO chat_people (user_id, name) VALUES (:user_id, :name)
ON CONFLICT (user_id) DO UPDATE SET name = excluded.name

-- name: inbox_pending
SELECT update_id, payload FROM chat_inbox WHERE handled_at IS NULL ORDER BY update_id
LIMIT :limit

-- name: inbox_next_offset
SELECT coalesce(max(update_id), -1) + 1 FROM chat_inbox

-- name: inbox_handled
UPDATE chat_inbox SET handled_at = :at WHERE update_id = :update_id AND handled_at IS NULL

-- name: outbox_prune
DELETE FROM chat_outbox
WHERE created_at < :before AND live_buttons = 0
  AND state IN ('sent', 'skipped', 'folded', 'failed')
  AND NOT EXISTS (SELECT 1 FROM chat_outbox f WHERE f.folded_into = chat_outbox.id)

-- name: inbox_prune
DELETE FROM chat_inbox WHERE handled_at IS NOT NULL AND handled_at < :before
  AND update_id < (SELECT max(update_id) FROM chat_inbox)
