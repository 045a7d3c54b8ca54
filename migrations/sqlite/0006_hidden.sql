-- Delete for me (design §9): the messages a member hid from their own
-- view, on all their devices (listed in their room summary). Nobody else's
-- view changes.
CREATE TABLE hidden (
    user_id INTEGER NOT NULL,
    room_id INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id, seq)
) WITHOUT ROWID;
