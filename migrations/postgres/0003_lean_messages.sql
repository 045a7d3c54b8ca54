-- A message insert is the hot write (group commit inserts a batch at a time),
-- and half its cost was checks that `Store::append` has already made in the
-- same transaction: it locks the batch's rooms (so they exist) and checks
-- each sender's membership (so the sender exists) before inserting, it is
-- the only writer of messages, and rooms and users are never deleted. The
-- foreign keys re-checked both for every row, each check locking a row.
-- The server's message ids are UUIDv7 (time and 74 random bits), unique
-- without an index of their own; nothing looks a message up by id.
ALTER TABLE messages
    DROP CONSTRAINT messages_room_id_fkey,
    DROP CONSTRAINT messages_sender_id_fkey,
    DROP CONSTRAINT messages_id_key;
