-- Groups are managed: members are owners, admins or members; a group has
-- a description; each change to a room (renamed, people added or removed,
-- someone left, a role set) is a row of its stream of kind 'room', its
-- body the change as JSON, and `rooms.changed_seq` the seq of the last.
-- The wider checks are NOT VALID: every row there meets the narrower ones.
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check
    CHECK (kind IN ('message', 'edit', 'delete', 'react', 'unreact', 'room')) NOT VALID;
ALTER TABLE members DROP CONSTRAINT members_role_check;
ALTER TABLE members ADD CONSTRAINT members_role_check
    CHECK (role IN ('owner', 'admin', 'member')) NOT VALID;

ALTER TABLE rooms ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE rooms ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;

-- Who left a group or was removed, and where their view of it ends: they
-- keep reading it up to `until_seq` (the row that said so), nothing later.
-- Joining again removes the row.
CREATE TABLE former_members (
    room_id   BIGINT NOT NULL,
    user_id   BIGINT NOT NULL,
    until_seq BIGINT NOT NULL,
    until_n   BIGINT NOT NULL,
    left_at   BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX former_members_by_user ON former_members(user_id);
