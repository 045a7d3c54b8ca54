-- Attachments (design §11): an upload's row from its creation to its
-- removal (`storage::uploads`); a message names its files in
-- `messages.files` (JSON: what every member is shown of them), and
-- `files.room_id`/`seq` say which message carries one: the file is served
-- only to that room's members. `parts` lists the stored parts of an
-- upload in order (object names, comma-separated) until it is complete.
ALTER TABLE messages ADD COLUMN files TEXT;
CREATE TABLE files (
    id         BLOB    PRIMARY KEY,
    owner_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    length     INTEGER NOT NULL,
    received   INTEGER NOT NULL DEFAULT 0,
    parts      TEXT    NOT NULL DEFAULT '',
    state      TEXT    NOT NULL CHECK (state IN ('uploading', 'ready', 'sent', 'erased')),
    mime       TEXT,
    size       INTEGER,
    width      INTEGER NOT NULL DEFAULT 0,
    height     INTEGER NOT NULL DEFAULT 0,
    color      TEXT,
    room_id    INTEGER,
    seq        INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX files_by_message ON files(room_id, seq);
CREATE INDEX files_by_owner ON files(owner_id, created_at);
CREATE INDEX files_by_state ON files(state, created_at);
