-- Look-alike handles: what each handle looks like at a glance
-- (`model::handle_skeleton`: 0 → o, 1 → l, rn → m, vv → w). A new handle
-- whose skeleton is taken is refused. Where existing handles already look
-- alike, the oldest keeps the skeleton and the others have none (NULLs do
-- not collide in a unique index).
ALTER TABLE users ADD COLUMN skeleton TEXT;
UPDATE users SET skeleton =
    replace(replace(replace(replace(handle, '0', 'o'), '1', 'l'), 'rn', 'm'), 'vv', 'w');
UPDATE users SET skeleton = NULL
    WHERE id NOT IN (SELECT MIN(id) FROM users GROUP BY skeleton);
CREATE UNIQUE INDEX users_skeleton ON users(skeleton);

-- Pictures: a person's and a group's (an id of the bytes in the object
-- store, new with each picture); NULL: their initial on a colour.
ALTER TABLE users ADD COLUMN avatar TEXT;
ALTER TABLE rooms ADD COLUMN avatar TEXT;

-- Accounts deleted by their owner: the row stays (their messages name it)
-- as "Deleted account", with no way to log in and a handle no one can sign
-- up with.
ALTER TABLE users ADD COLUMN deleted_at BIGINT;
