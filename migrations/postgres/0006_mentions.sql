-- Mentions (design §9): a message or an edit names members by id in
-- `messages.mentions` (comma-separated ids; an edit row holds the ones it
-- added). `mentions` holds who each message called by name, a reply
-- calling the sender of the message it answers: the unread mentions of a
-- member are its rows after their read mark. A delete removes its rows.
ALTER TABLE messages ADD COLUMN mentions TEXT;
CREATE TABLE mentions (
    user_id BIGINT NOT NULL,
    room_id BIGINT NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, seq)
);
CREATE INDEX mentions_by_message ON mentions(room_id, seq);
