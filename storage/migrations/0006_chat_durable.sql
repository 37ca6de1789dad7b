-- The chat's durable edges: what Telegram told orch (inbox), what orch promised to say
-- (outbox), what it spent of the group's budget, and what it already pushed (dedup).

-- Every update fetched from Telegram, stored before its offset is confirmed. An update
-- is handled once: handled_at is set in the same transaction as the change it causes.
CREATE TABLE chat_inbox (
    update_id   INTEGER PRIMARY KEY,
    payload     TEXT NOT NULL,
    received_at TEXT NOT NULL,
    handled_at  TEXT
);

CREATE INDEX chat_inbox_pending ON chat_inbox (update_id) WHERE handled_at IS NULL;

-- Who pressed or wrote, so "approved by Lena" can be said without asking Telegram.
CREATE TABLE chat_people (
    user_id INTEGER PRIMARY KEY,
    name    TEXT NOT NULL
);

-- Every message orch means to send. chat_id NULL is the team's group. A row is
-- 'sending' only inside one HTTP round trip; a row found 'sending' after a restart may
-- have been delivered already, and is counted as such (suspect) before it is retried.
CREATE TABLE chat_outbox (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL
                 CHECK (kind IN ('event', 'reply', 'alert', 'digest', 'card', 'edit', 'refusal')),
    chat_id      INTEGER,
    task_id      INTEGER,
    version      INTEGER,
    event_id     INTEGER UNIQUE REFERENCES task_events (id),
    reply_to     INTEGER,
    edit_message_id INTEGER,
    body         TEXT,
    markup       TEXT,
    state        TEXT NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'sending', 'sent', 'folded', 'skipped', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    suspect      INTEGER NOT NULL DEFAULT 0,
    message_id   INTEGER,
    live_buttons INTEGER NOT NULL DEFAULT 0,
    folded_into  INTEGER REFERENCES chat_outbox (id),
    not_before   TEXT,
    created_at   TEXT NOT NULL,
    sent_at      TEXT,
    -- a sent row always knows which message it became
    CHECK ((state = 'sent') = (sent_at IS NOT NULL)),
    CHECK (state != 'sent' OR message_id IS NOT NULL OR kind = 'edit')
);

CREATE INDEX chat_outbox_open ON chat_outbox (id) WHERE state IN ('pending', 'sending');
CREATE INDEX chat_outbox_live ON chat_outbox (task_id) WHERE live_buttons = 1;
CREATE INDEX chat_outbox_refusals ON chat_outbox (chat_id, created_at) WHERE kind = 'refusal';

-- Every change of a task promises the chat a word about it in the same transaction.
CREATE TRIGGER task_events_to_outbox AFTER INSERT ON task_events
BEGIN
    INSERT INTO chat_outbox (kind, task_id, version, event_id, created_at)
    VALUES ('event', NEW.task_id, NEW.version, NEW.id, NEW.at);
END;

-- The group's send budget: one row per message or edit that went (or may have gone) out.
CREATE TABLE chat_sends (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL
);

CREATE INDEX chat_sends_at ON chat_sends (at);

-- The dedup guard's memory: the last (kind, stage) pushed per task.
CREATE TABLE chat_push_marks (
    task_id INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    stage   TEXT NOT NULL
);

-- A card whose task has a newer version than it shows needs a render; nothing else does.
CREATE INDEX chat_cards_shown ON chat_cards (task_id, shown_version);
