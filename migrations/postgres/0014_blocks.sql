-- Who blocked whom. A blocked person's direct messages to the one who
-- blocked them are stored (and acked) but hidden from them (a `hidden` row
-- written with the message), they cannot start a conversation with them
-- or add them to a group, and their messages in groups are shown folded.
CREATE TABLE blocks (
    user_id    BIGINT NOT NULL,
    blocked_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);
CREATE INDEX blocks_by_blocked ON blocks(blocked_id);

-- Messages reported to the operator, with the text they had when reported.
CREATE TABLE reports (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reporter_id BIGINT NOT NULL,
    room_id     BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    sender_id   BIGINT NOT NULL,
    body        TEXT   NOT NULL,
    reason      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (reporter_id, room_id, seq)
);
