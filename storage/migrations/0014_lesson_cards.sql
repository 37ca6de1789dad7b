-- A lesson card (/lesson ID) is a reply with buttons: its row names the lesson and the
-- version it shows, so that when the lesson changes (closed from another copy of its
-- card, say) every copy still offering the old buttons is edited to drop them.
ALTER TABLE chat_outbox ADD COLUMN lesson_id INTEGER;
CREATE INDEX chat_outbox_live_lessons ON chat_outbox (lesson_id)
    WHERE live_buttons = 1 AND lesson_id IS NOT NULL;
