-- The people directory: each person under the words of their display name
-- (folded: compatibility-decomposed, accents dropped, lower case) and
-- their handle, found by prefix. Names are folded by the server (it fills
-- in the people there before this table at start-up); handles are ASCII
-- lower case already.
CREATE TABLE people_index (
    key     TEXT    NOT NULL,
    user_id INTEGER NOT NULL,
    PRIMARY KEY (key, user_id)
) WITHOUT ROWID;
CREATE INDEX people_index_by_user ON people_index(user_id);
INSERT INTO people_index (key, user_id) SELECT handle, id FROM users;

-- The people whose names the server indexes at start-up (all of them now).
CREATE TABLE people_todo (user_id INTEGER PRIMARY KEY);
INSERT INTO people_todo (user_id) SELECT id FROM users;
