-- Delete for me (design §9): the messages a member hid from their own
-- view, on all their devices (listed in their room summary). Nobody else's
-- view changes.
CREATE TABLE hidden (
    user_id BIGINT NOT NULL,
    room_id BIGINT NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, seq)
);
