-- Search (design §11, `storage::search`): one document per message, keyed
-- by room_id << 32 | seq (the column is named as SQLite's FTS5 names its
-- key, so both run one SQL text), holding the message's tokens
-- (`server::text`) with their positions, each prefixed with its room
-- ("12_회의"), so a search reads only the postings of the searcher's own
-- rooms. Tokens are cut by the server and written as a tsvector literal:
-- no text-search configuration or locale is involved.
CREATE TABLE search (
    rowid BIGINT   PRIMARY KEY,
    terms TSVECTOR NOT NULL
);
CREATE INDEX search_terms ON search USING gin (terms);

-- Messages stored before the index existed: indexed at start-up, a batch
-- at a time (`Search::index_backlog`).
CREATE TABLE search_todo (
    room_id BIGINT NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (room_id, seq)
);
INSERT INTO search_todo (room_id, seq)
    SELECT room_id, seq FROM messages WHERE kind = 'message' AND deleted = 0;
