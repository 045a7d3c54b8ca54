-- The whole schema the delivery model needs (design §2); the same shape as
-- migrations/sqlite. Times are milliseconds since the Unix epoch.

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    handle        TEXT   NOT NULL UNIQUE,
    display_name  TEXT   NOT NULL,
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen     BIGINT
);

-- Session tokens are stored as SHA-256 hashes: a leaked table opens no session.
CREATE TABLE sessions (
    token_hash BYTEA  PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id);

-- head_seq is the room's last assigned message seq (rule 1: per-room order).
-- direct_key is "low_id:high_id" for direct rooms, so a pair has one room.
CREATE TABLE rooms (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          TEXT   NOT NULL CHECK (kind IN ('direct', 'group')),
    name          TEXT   NOT NULL,
    direct_key    TEXT   UNIQUE,
    head_seq      BIGINT NOT NULL DEFAULT 0,
    created_by    BIGINT NOT NULL REFERENCES users(id),
    created_at    BIGINT NOT NULL,
    last_activity BIGINT NOT NULL
);

-- delivered_seq / read_seq are the member's watermarks (rule 6), only ever raised.
CREATE TABLE members (
    room_id       BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role          TEXT   NOT NULL CHECK (role IN ('owner', 'member')),
    delivered_seq BIGINT NOT NULL DEFAULT 0,
    read_seq      BIGINT NOT NULL DEFAULT 0,
    joined_at     BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX members_by_user ON members(user_id);

-- (room_id, seq) is the order; (sender_id, client_msg_id) makes sends idempotent (rule 2).
CREATE TABLE messages (
    room_id       BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    seq           BIGINT NOT NULL,
    id            BYTEA  NOT NULL UNIQUE,
    sender_id     BIGINT NOT NULL REFERENCES users(id),
    client_msg_id BYTEA  NOT NULL,
    body          TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (room_id, seq),
    UNIQUE (sender_id, client_msg_id)
);

-- A Web Push subscription belongs to the session that made it: logging out
-- deletes the session and with it the device's subscription.
CREATE TABLE push_subscriptions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_hash BYTEA  REFERENCES sessions(token_hash) ON DELETE CASCADE,
    endpoint     TEXT   NOT NULL UNIQUE,
    p256dh       TEXT   NOT NULL,
    auth         TEXT   NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX push_subscriptions_by_user ON push_subscriptions(user_id);
