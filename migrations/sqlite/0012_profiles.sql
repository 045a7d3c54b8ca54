-- A person's profile: a short status line beside their display name, and
-- which messages of a room they join notify them unless they say otherwise.
ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN notify_default TEXT NOT NULL DEFAULT 'all';
