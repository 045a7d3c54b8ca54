-- Which messages of a room notify a member while away: 'all' or 'none'
-- (muted). Checked by the application (model::Notify), so later levels need
-- no table rebuild.
ALTER TABLE members ADD COLUMN notify TEXT NOT NULL DEFAULT 'all';
