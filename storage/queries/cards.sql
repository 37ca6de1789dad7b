-- name: get_card
SELECT * FROM chat_cards WHERE task_id = :task_id

-- name: upsert_card
INSERT INTO chat_cards (task_id, chat_id, message_id, shown_version, content_hash, updated_at)
VALUES (:task_id, :chat_id, :message_id, :shown_version, :content_hash, :at)
ON CONFLICT (task_id) DO UPDATE SET
    chat_id = excluded.chat_id,
    message_id = excluded.message_id,
    shown_version = excluded.shown_version,
    content_hash = excluded.content_hash,
    updated_at = excluded.updated_at

-- name: card_by_message
SELECT * FROM chat_cards WHERE chat_id = :chat_id AND message_id = :message_id

-- name: get_cursor
SELECT value FROM cursors WHERE name = :name

-- name: set_cursor
INSERT INTO cursors (name, value, updated_at) VALUES (:name, :value, :at)
ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
