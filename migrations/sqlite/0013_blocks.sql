-- Who blocked whom. A blocked person's direct messages to the one who
-- blocked them are stored (and acked) but hidden from them (a `hidden` row
-- written with the message), they cannot start a conversation with them
-- or add them to a group, and their messages in groups are shown folded.
CREATE TABLE blocks (
    user_id    INTEGER NOT NULL,
    blocked_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
) WITHOUT ROWID;
CREATE INDEX blocks_by_blocked ON blocks(blocked_id);

-- Messages reported to the operator, with the text they had when reported.
CREATE TABLE reports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    reporter_id INTEGER NOT NULL,
    room_id     INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    sender_id   INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (reporter_id, room_id, seq)
);
