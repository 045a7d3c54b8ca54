-- Search (design §11, `storage::search`): one document per message, keyed
-- by room_id << 32 | seq, holding the message's tokens (`server::text`),
-- each prefixed with its room ("12_회의"), so a search reads only the
-- postings of the searcher's own rooms. The FTS5 table keeps no copy of
-- the text (contentless) and allows deletes by key. Tokens are cut by the
-- server; the `ascii` tokenizer with `_` as a token character only splits
-- them at the spaces between.
CREATE VIRTUAL TABLE search USING fts5(
    terms,
    tokenize = "ascii tokenchars '_'",
    content = '',
    contentless_delete = 1
);

-- Messages stored before the index existed: indexed at start-up, a batch
-- at a time (`Search::index_backlog`).
CREATE TABLE search_todo (
    room_id INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (room_id, seq)
) WITHOUT ROWID;
INSERT INTO search_todo (room_id, seq)
    SELECT room_id, seq FROM messages WHERE kind = 'message' AND deleted = 0;
