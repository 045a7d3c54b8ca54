-- Edits, deletes and reactions ride the room's stream (design §9): every
-- row of `messages` is a message or an event (`kind`) that changes the
-- message at `target`. A message row holds its current state, updated in
-- the event's transaction; `version` is the seq of the last change folded
-- into it. `n` counts the room's messages up to the row (events repeat the
-- count before them), `rooms.head_n` the room's, `members.read_n` the n of
-- the row at the member's read mark: unread = head_n - read_n, less the
-- deleted messages after the mark.
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'message'
    CHECK (kind IN ('message', 'edit', 'delete', 'react', 'unreact'));
ALTER TABLE messages ADD COLUMN target INTEGER;
ALTER TABLE messages ADD COLUMN n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
UPDATE messages SET n = seq, version = seq;
ALTER TABLE rooms ADD COLUMN head_n INTEGER NOT NULL DEFAULT 0;
UPDATE rooms SET head_n = head_seq;
ALTER TABLE members ADD COLUMN read_n INTEGER NOT NULL DEFAULT 0;
UPDATE members SET read_n = read_seq;
-- The edits of a message (erased with it), and the deleted messages (unread).
CREATE INDEX messages_by_target ON messages(room_id, target) WHERE target IS NOT NULL;
CREATE INDEX messages_deleted ON messages(room_id, seq) WHERE deleted = 1;

-- Who reacted to a message with what; `at` is the seq of the reaction.
CREATE TABLE reactions (
    room_id INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    emoji   TEXT    NOT NULL,
    user_id INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    PRIMARY KEY (room_id, seq, emoji, user_id)
) WITHOUT ROWID;
