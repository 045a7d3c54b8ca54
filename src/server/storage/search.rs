//! The search index: a document per message (its current text, tokens cut
//! by `server::text`), written in the transaction that stores, edits or
//! deletes the message (`Messages::append` calls `index`), so a search
//! never finds erased text; and the search itself, in the searcher's rooms
//! only.
//!
//! Every token is written prefixed with its room ("12_회의"), so the
//! postings a search reads are those of the searcher's rooms, and what it
//! costs does not depend on what other rooms hold; the query names the
//! searcher's rooms, and the SQL joins `members` as well. Someone in many
//! rooms is searched `ROOMS_PER_QUERY` rooms at a time, the most recently
//! active first, until the page is full and the rooms left are too quiet
//! to change it. Two markers
//! stand for the filters: "12__u7" (sent by user 7) and "12__f" (carries
//! files); no typed token starts with `_`.
//!
//! SQLite keeps the documents in an FTS5 table, PostgreSQL in a `tsvector`
//! column under a GIN index; the SQL is one text but for the match and the
//! document's cast (`Dialect`), and the document and query strings are
//! written here for each.

use async_trait::async_trait;

use super::StoreError;
use crate::model::{RoomId, UserId};
use crate::protocol::{Message, Seq};
use crate::server::text::{self, Phrase};

#[async_trait]
pub trait Search: Send + Sync {
    /// A page of the messages of `q.user`'s rooms that `q` matches, newest first.
    async fn search(&self, q: &SearchQuery) -> Result<Vec<Message>, StoreError>;

    /// Indexes up to `limit` of the messages stored before the index
    /// existed; how many it took (0: none is left).
    async fn index_backlog(&self, limit: u32) -> Result<u64, StoreError>;
}

/// What to look for, and where.
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    pub user: UserId,
    /// Only these rooms (those `user` is in).
    pub rooms: Option<Vec<RoomId>>,
    /// Each must match; at least one phrase or filter is needed.
    pub phrases: Vec<Phrase>,
    pub from: Option<UserId>,
    pub has_file: bool,
    /// Sent at or after `after` and before `before` (ms).
    pub after: i64,
    pub before: i64,
    /// The page after this result: (sent at, room, seq) of the last one shown.
    pub older_than: Option<(i64, RoomId, Seq)>,
    pub limit: u32,
}

/// The two ways of writing documents and queries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite's FTS5: a document is its tokens with spaces between.
    Fts5,
    /// PostgreSQL: a document is a `tsvector` literal with positions.
    Postgres,
}

impl Dialect {
    /// The dialect of a store that numbers its placeholders (PostgreSQL).
    pub fn of(numbered: bool) -> Self {
        match numbered {
            true => Dialect::Postgres,
            false => Dialect::Fts5,
        }
    }

    /// The `WHERE` clause that matches documents against query `$2`.
    pub fn matches(self) -> &'static str {
        match self {
            Dialect::Fts5 => "search MATCH $2",
            Dialect::Postgres => "search.terms @@ $2::tsquery",
        }
    }

    /// `rows` (key, document) rows for `INSERT INTO search (rowid, terms)`.
    pub fn values(self, rows: usize) -> String {
        (0..rows)
            .map(|r| match self {
                Dialect::Fts5 => "(?, ?)".to_string(),
                Dialect::Postgres => format!("(${}, ${}::tsvector)", 2 * r + 1, 2 * r + 2),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A message's document key: its room and seq in one integer (seqs stay
/// below 2³², room ids below 2³¹).
pub fn key(room: RoomId, seq: Seq) -> i64 {
    (room << 32) | (seq & 0xFFFF_FFFF)
}

/// How many rooms one query names: a query's cost grows with its
/// alternatives times its candidates, so a person in many rooms is
/// searched a chunk of rooms at a time, the most recently active first.
pub const ROOMS_PER_QUERY: usize = 32;

/// The rooms (id, last activity) worth searching for `q`, most recently
/// active first: those `q` names, and only those where anything was said
/// since `q.after`.
pub fn searched(mut rooms: Vec<(RoomId, i64)>, q: &SearchQuery) -> Vec<(RoomId, i64)> {
    rooms.retain(|&(id, latest)| latest >= q.after && q.rooms.as_ref().is_none_or(|only| only.contains(&id)));
    rooms.sort_by_key(|&(id, latest)| std::cmp::Reverse((latest, id)));
    rooms
}

/// Whether the page is settled before rooms whose newest message is no
/// later than `latest`: it is full, and its last is later than anything
/// they hold (rooms with later activity were searched first).
pub fn full(found: &[Message], limit: u32, latest: i64) -> bool {
    found.len() >= limit as usize && found.last().is_some_and(|m| m.ts > latest)
}

/// The newest `limit` of both, newest first (as the query orders them).
pub fn merge(mut found: Vec<Message>, more: Vec<Message>, limit: u32) -> Vec<Message> {
    found.extend(more);
    found.sort_by_key(|m| std::cmp::Reverse((m.ts, m.room, m.seq)));
    found.truncate(limit as usize);
    found
}

/// What a message is found by: its body and its files' names.
pub fn text_of(m: &Message) -> String {
    let mut text = m.body.clone();
    for f in &m.files {
        text.push('\n');
        text.push_str(&f.name);
    }
    text
}

/// The document of message `m`.
pub fn document(dialect: Dialect, m: &Message) -> String {
    use std::fmt::Write as _;
    let text = text_of(m);
    let mut doc = String::with_capacity(3 * text.len() + 32);
    let mut at = 0;
    let mut term = |doc: &mut String, token: std::fmt::Arguments| {
        at += 1;
        if at > 1 {
            doc.push(' ');
        }
        // Tokens hold letters and digits only: nothing to quote in either syntax.
        match dialect {
            Dialect::Fts5 => {
                let _ = write!(doc, "{}_{token}", m.room);
            }
            Dialect::Postgres => {
                let _ = write!(doc, "'{}_{token}':{}", m.room, at.min(16_383));
            }
        }
    };
    for t in text::tokens(&text) {
        term(&mut doc, format_args!("{}", t.text));
    }
    term(&mut doc, format_args!("_u{}", m.sender));
    if !m.files.is_empty() {
        term(&mut doc, format_args!("_f"));
    }
    doc
}

/// A PostgreSQL lexeme in quotes (tokens hold no quote, but a lexeme
/// written here is never read as syntax).
fn quoted(lexeme: &str) -> String {
    format!("'{}'", lexeme.replace('\\', "\\\\").replace('\'', "''"))
}

/// The query that finds, in any of `rooms`, the documents that hold every
/// phrase and marker of `q`; None when `q` asks for nothing or `rooms` is empty.
pub fn query(dialect: Dialect, rooms: &[RoomId], q: &SearchQuery) -> Option<String> {
    let mut wanted: Vec<Phrase> = q
        .phrases
        .iter()
        .filter(|p| !p.tokens.is_empty())
        .cloned()
        .collect();
    let marker = |m: String| Phrase {
        tokens: vec![m],
        prefix: false,
    };
    wanted.extend(q.from.map(|u| marker(format!("_u{u}"))));
    if q.has_file {
        wanted.push(marker("_f".into()));
    }
    if wanted.is_empty() || rooms.is_empty() {
        return None;
    }
    let (or, and) = match dialect {
        Dialect::Fts5 => (" OR ", " AND "),
        Dialect::Postgres => (" | ", " & "),
    };
    let each = wanted.iter().map(|p| {
        let alternatives: Vec<String> = rooms.iter().map(|&room| phrase(dialect, room, p)).collect();
        format!("({})", alternatives.join(or))
    });
    Some(each.collect::<Vec<_>>().join(and))
}

/// Phrase `p` in room `room`'s tokens.
fn phrase(dialect: Dialect, room: RoomId, p: &Phrase) -> String {
    let tokens = p.tokens.iter().map(|t| format!("{room}_{t}"));
    match dialect {
        Dialect::Fts5 => {
            let star = if p.prefix { "*" } else { "" };
            format!("\"{}\"{star}", tokens.collect::<Vec<_>>().join(" "))
        }
        Dialect::Postgres => {
            let n = p.tokens.len();
            let lexemes = tokens.enumerate().map(|(i, t)| {
                let star = if p.prefix && i + 1 == n { ":*" } else { "" };
                format!("{}{star}", quoted(&t))
            });
            format!("({})", lexemes.collect::<Vec<_>>().join(" <-> "))
        }
    }
}

/// `impl_search!(Type, Database, "row lock clause", numbered)`: the
/// `Search` of a store type, and `index`, which `append` calls in its
/// transaction.
macro_rules! impl_search {
    ($store:ty, $db:ty, $lock:literal, $numbered:literal) => {
        #[async_trait::async_trait]
        impl $crate::server::storage::Search for $store {
            async fn search(&self, q: &search::SearchQuery) -> Result<Vec<Message>, StoreError> {
                let dialect = search::Dialect::of($numbered);
                let rooms: Vec<(i64, i64)> = sqlx::query_as(
                    "SELECT r.id, r.last_activity FROM members mb JOIN rooms r ON r.id = mb.room_id
                      WHERE mb.user_id = $1 ORDER BY r.last_activity DESC, r.id DESC",
                )
                .bind(q.user)
                .fetch_all(&self.read)
                .await?;
                let rooms = search::searched(rooms, q);
                let sql = format!(
                    "{} FROM search
                       JOIN messages m ON m.room_id = (search.rowid >> 32) AND m.seq = (search.rowid & 4294967295)
                       JOIN members mb ON mb.room_id = m.room_id AND mb.user_id = $1
                       JOIN users u ON u.id = m.sender_id
                      WHERE {} AND m.kind = 'message' AND m.deleted = 0
                        AND m.created_at >= $3 AND m.created_at < $4
                        AND (m.created_at < $5 OR (m.created_at = $5 AND (m.room_id < $6 OR (m.room_id = $6 AND m.seq < $7))))
                      ORDER BY m.created_at DESC, m.room_id DESC, m.seq DESC LIMIT $8",
                    messages::MESSAGE_COLUMNS,
                    dialect.matches()
                );
                let (at, room, seq) = q.older_than.unwrap_or((i64::MAX, 0, 0));
                let mut found = Vec::new();
                for chunk in rooms.chunks(search::ROOMS_PER_QUERY) {
                    if search::full(&found, q.limit, chunk[0].1) {
                        break;
                    }
                    let ids: Vec<RoomId> = chunk.iter().map(|&(id, _)| id).collect();
                    let Some(wanted) = search::query(dialect, &ids, q) else {
                        break;
                    };
                    let rows: Vec<sql::MessageRow> = sqlx::query_as(&sql)
                        .bind(q.user)
                        .bind(wanted)
                        .bind(q.after)
                        .bind(q.before)
                        .bind(at)
                        .bind(room)
                        .bind(seq)
                        .bind(i64::from(q.limit))
                        .fetch_all(&self.read)
                        .await?;
                    let rows = rows.into_iter().map(sql::message).collect::<Result<Vec<_>, _>>()?;
                    found = search::merge(found, rows, q.limit);
                }
                Ok(found)
            }

            async fn index_backlog(&self, limit: u32) -> Result<u64, StoreError> {
                // The messages are locked (PostgreSQL) while their documents
                // are written: an edit or delete of one waits, then replaces
                // or removes what this wrote.
                let mut tx = self.write.begin().await?;
                let q = format!(
                    "{} FROM search_todo t JOIN messages m ON m.room_id = t.room_id AND m.seq = t.seq
                       JOIN users u ON u.id = m.sender_id
                      ORDER BY t.room_id, t.seq LIMIT $1 {}",
                    messages::MESSAGE_COLUMNS,
                    $lock
                );
                let rows: Vec<sql::MessageRow> = sqlx::query_as(&q).bind(i64::from(limit)).fetch_all(&mut *tx).await?;
                let msgs = rows.into_iter().map(sql::message).collect::<Result<Vec<_>, _>>()?;
                let Some(last) = msgs.last().map(|m| (m.room, m.seq)) else {
                    sqlx::query("DELETE FROM search_todo").execute(&mut *tx).await?;
                    tx.commit().await?;
                    return Ok(0);
                };
                let taken = msgs.len() as u64;
                let live: Vec<&Message> = msgs.iter().filter(|m| !m.deleted).collect();
                Self::index(&mut tx, &live, &live).await?;
                sqlx::query("DELETE FROM search_todo WHERE room_id < $1 OR (room_id = $1 AND seq <= $2)")
                    .bind(last.0)
                    .bind(last.1)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(taken)
            }
        }

        impl $store {
            /// Removes the documents of `stale` and writes those of `fresh`
            /// (their current text), in the caller's transaction. In key
            /// order: FTS5 writes out what it holds in memory whenever a key
            /// comes lower than the one before (a segment per document, and
            /// merges without end, were the batch's rooms taken as they come).
            async fn index<'c>(
                tx: &mut sqlx::Transaction<'c, $db>,
                stale: &[&Message],
                fresh: &[&Message],
            ) -> Result<(), StoreError> {
                let dialect = search::Dialect::of($numbered);
                let (mut stale, mut fresh) = (stale.to_vec(), fresh.to_vec());
                stale.sort_unstable_by_key(|m| search::key(m.room, m.seq));
                fresh.sort_unstable_by_key(|m| search::key(m.room, m.seq));
                let (stale, fresh) = (stale.as_slice(), fresh.as_slice());
                for chunk in messages::pow2_chunks(stale) {
                    let q = format!("DELETE FROM search WHERE rowid IN ({})", messages::params(chunk.len(), 1, $numbered));
                    chunk
                        .iter()
                        .fold(sqlx::query(&q), |q, m| q.bind(search::key(m.room, m.seq)))
                        .execute(&mut **tx)
                        .await?;
                }
                for chunk in messages::pow2_chunks(fresh) {
                    let q = format!("INSERT INTO search (rowid, terms) VALUES {}", dialect.values(chunk.len()));
                    chunk
                        .iter()
                        .fold(sqlx::query(&q), |q, m| {
                            q.bind(search::key(m.room, m.seq)).bind(search::document(dialect, m))
                        })
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }
        }
    };
}

pub(super) use impl_search;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::text::phrase;

    fn message(room: RoomId, body: &str) -> Message {
        Message {
            room,
            seq: 5,
            sender: 7,
            body: body.into(),
            ..Message::default()
        }
    }

    #[test]
    fn a_document_holds_the_rooms_tokens_and_markers() {
        let m = message(12, "내일회의 at 3");
        assert_eq!(
            document(Dialect::Fts5, &m),
            "12_내일 12_일회 12_회의 12_at 12_3 12__u7"
        );
        assert_eq!(
            document(Dialect::Postgres, &m),
            "'12_내일':1 '12_일회':2 '12_회의':3 '12_at':4 '12_3':5 '12__u7':6"
        );
        assert_eq!(key(12, 5), (12 << 32) + 5);
    }

    #[test]
    fn a_query_asks_every_phrase_in_any_of_the_rooms() {
        let q = SearchQuery {
            phrases: vec![phrase("회의는", false).unwrap(), phrase("hel", false).unwrap()],
            from: Some(7),
            ..SearchQuery::default()
        };
        assert_eq!(
            query(Dialect::Fts5, &[1, 2], &q).unwrap(),
            "(\"1_회의 1_의는\" OR \"2_회의 2_의는\") AND (\"1_hel\"* OR \"2_hel\"*) AND (\"1__u7\" OR \"2__u7\")"
        );
        assert_eq!(
            query(Dialect::Postgres, &[1], &q).unwrap(),
            "(('1_회의' <-> '1_의는')) & (('1_hel':*)) & (('1__u7'))"
        );
        assert_eq!(query(Dialect::Fts5, &[], &q), None, "no rooms, nothing to find");
        assert_eq!(query(Dialect::Fts5, &[1], &SearchQuery::default()), None);
    }

    #[test]
    fn many_rooms_are_searched_the_liveliest_first_until_the_page_is_settled() {
        let q = SearchQuery {
            rooms: Some(vec![1, 2, 3]),
            after: 10,
            ..SearchQuery::default()
        };
        assert_eq!(
            searched(vec![(1, 50), (2, 70), (3, 5), (4, 90)], &q),
            vec![(2, 70), (1, 50)],
            "not room 4 (not asked), not room 3 (quiet since before `after`)"
        );
        let at = |ts: i64, room: RoomId| Message {
            ts,
            room,
            ..Message::default()
        };
        let page = merge(vec![at(60, 2), at(40, 2)], vec![at(50, 1), at(60, 3)], 3);
        let order: Vec<(i64, RoomId)> = page.iter().map(|m| (m.ts, m.room)).collect();
        assert_eq!(order, vec![(60, 3), (60, 2), (50, 1)]);
        assert!(full(&page, 3, 49), "nothing in the rooms left can be newer");
        assert!(
            !full(&page, 3, 50),
            "a tie at 50 in a higher room would come first"
        );
        assert!(!full(&page, 4, 0), "the page is not full");
    }
}
