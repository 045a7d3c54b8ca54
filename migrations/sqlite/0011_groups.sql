-- Groups are managed: members are owners, admins or members; a group has
-- a description; each change to a room (renamed, people added or removed,
-- someone left, a role set) is a row of its stream of kind 'room', its
-- body the change as JSON, and `rooms.changed_seq` the seq of the last.
-- SQLite cannot alter a CHECK constraint, so `messages` and `members` are
-- built again with the wider ones (nothing refers to either table).
CREATE TABLE messages_new (
    room_id       INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    id            BLOB    NOT NULL UNIQUE,
    sender_id     INTEGER NOT NULL REFERENCES users(id),
    client_msg_id BLOB    NOT NULL,
    body          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    kind          TEXT    NOT NULL DEFAULT 'message'
        CHECK (kind IN ('message', 'edit', 'delete', 'react', 'unreact', 'room')),
    target        INTEGER,
    n             INTEGER NOT NULL DEFAULT 0,
    version       INTEGER NOT NULL DEFAULT 0,
    edited_at     INTEGER,
    deleted       INTEGER NOT NULL DEFAULT 0,
    reply_to      INTEGER,
    mentions      TEXT,
    files         TEXT,
    PRIMARY KEY (room_id, seq),
    UNIQUE (sender_id, client_msg_id)
) WITHOUT ROWID;
INSERT INTO messages_new (room_id, seq, id, sender_id, client_msg_id, body, created_at,
                          kind, target, n, version, edited_at, deleted, reply_to, mentions, files)
    SELECT room_id, seq, id, sender_id, client_msg_id, body, created_at,
           kind, target, n, version, edited_at, deleted, reply_to, mentions, files FROM messages;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_by_target ON messages(room_id, target) WHERE target IS NOT NULL;
CREATE INDEX messages_deleted ON messages(room_id, seq) WHERE deleted = 1;

CREATE TABLE members_new (
    room_id       INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role          TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    delivered_seq INTEGER NOT NULL DEFAULT 0,
    read_seq      INTEGER NOT NULL DEFAULT 0,
    joined_at     INTEGER NOT NULL,
    read_n        INTEGER NOT NULL DEFAULT 0,
    notify        TEXT    NOT NULL DEFAULT 'all',
    PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
INSERT INTO members_new (room_id, user_id, role, delivered_seq, read_seq, joined_at, read_n, notify)
    SELECT room_id, user_id, role, delivered_seq, read_seq, joined_at, read_n, notify FROM members;
DROP TABLE members;
ALTER TABLE members_new RENAME TO members;
CREATE INDEX members_by_user ON members(user_id);
CREATE INDEX members_by_delivered ON members(room_id, delivered_seq);
CREATE INDEX members_by_read ON members(room_id, read_seq);

ALTER TABLE rooms ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN changed_seq INTEGER NOT NULL DEFAULT 0;

-- Who left a group or was removed, and where their view of it ends: they
-- keep reading it up to `until_seq` (the row that said so), nothing later.
-- Joining again removes the row.
CREATE TABLE former_members (
    room_id   INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    until_seq INTEGER NOT NULL,
    until_n   INTEGER NOT NULL,
    left_at   INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
CREATE INDEX former_members_by_user ON former_members(user_id);
