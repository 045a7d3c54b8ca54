//! The room stream's rows (messages and the events that change them): the
//! batch append (group commit) and the pages read back, messages in their
//! current state with their reactions. What a batch becomes is decided by
//! `plan::plan`, a pure function; the backend code around it reads what the
//! plan needs and runs what it decided. The batch's statements come in few
//! shapes (`padded`, `pow2_chunks`), so they stay in each connection's
//! statement cache.

pub mod change;
pub mod plan;

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Appended, NewMessage, StoreError};
use crate::model::Reaction;
use crate::model::{RoomId, UserId};
use crate::protocol::{Message, Seq};

#[async_trait]
pub trait Messages: Send + Sync {
    /// Stores a batch of rows in one transaction (group commit): for each,
    /// dedup on (sender, cid), check membership and the change's rules,
    /// take the room's next seq, insert, apply it to the message it
    /// changes, and move the sender's marks to it. All or nothing: an error
    /// means none of them was stored.
    async fn append(&self, batch: &[NewMessage]) -> Result<Vec<Appended>, StoreError>;

    /// Up to `limit` rows with seq > `after`, oldest first.
    async fn messages_after(&self, room: RoomId, after: Seq, limit: u32) -> Result<Vec<Message>, StoreError>;

    /// The newest `limit` rows with seq < `before`, oldest first.
    async fn messages_before(
        &self,
        room: RoomId,
        before: Seq,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError>;
}

/// The most rows one `INSERT` takes (16 parameters each, well within
/// both databases' limits).
pub const INSERT_CHUNK: usize = 128;

/// A batch's statements come in a few sizes only, each prepared once and
/// kept in the connection's statement cache (a statement per batch length
/// would be prepared anew nearly every time): lookups and updates take their
/// keys without repeats, padded to a power of two by repeating the last one
/// (a repeat finds or sets the same row again); inserts go in chunks whose
/// sizes are powers of two.
pub fn padded<T: Ord + Copy>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut keys: Vec<T> = items
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if let Some(&last) = keys.last() {
        keys.resize(keys.len().next_power_of_two(), last);
    }
    keys
}

/// `items` in chunks of at most `INSERT_CHUNK`, each a power of two long.
pub fn pow2_chunks<T>(mut items: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if items.is_empty() {
            return None;
        }
        let n = INSERT_CHUNK.min(1 << items.len().ilog2());
        let (chunk, rest) = items.split_at(n);
        items = rest;
        Some(chunk)
    })
}

/// `n` placeholders: `$first, $first+1, …` when `numbered` (PostgreSQL
/// knows no other kind), else `?, ?, …` (SQLite: binding a long statement's
/// numbered parameters costs time quadratic in their number).
pub fn params(n: usize, first: usize, numbered: bool) -> String {
    if !numbered {
        return vec!["?"; n].join(", ");
    }
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($1, $2), ($3, $4), …`: `rows` rows of `cols` placeholders, for a `VALUES`
/// list (whose columns both databases call `column1`, `column2`, …).
pub fn values(rows: usize, cols: usize, numbered: bool) -> String {
    (0..rows)
        .map(|r| format!("({})", params(cols, 1 + r * cols, numbered)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The columns of a row of the stream as `m`, with its sender as `u` (`sql::MessageRow`).
pub const MESSAGE_COLUMNS: &str = "
    SELECT m.room_id, m.seq, m.id, m.sender_id, u.display_name, m.body, m.created_at, m.client_msg_id,
           m.kind, m.target, m.n, m.version, m.edited_at, m.deleted, m.reply_to, m.mentions, m.files";

/// `items` with the last one repeated up to a power-of-two length (for
/// statements whose repeated rows find or set the same row again).
pub fn pad<T: Clone>(mut items: Vec<T>) -> Vec<T> {
    if let Some(last) = items.last().cloned() {
        items.resize(items.len().next_power_of_two(), last);
    }
    items
}

/// The rows at `n` pairs of values of two columns of `messages`:
/// `["sender_id", "client_msg_id"]`, the rows stored under a batch's cids;
/// `["room_id", "seq"]`, the messages a batch names. The pairs come first
/// (`CROSS JOIN` keeps SQLite from reordering), each looked up in a unique
/// index.
pub fn rows_query(n: usize, [first, second]: [&str; 2], numbered: bool) -> String {
    format!(
        "{} FROM (VALUES {}) AS v CROSS JOIN messages m JOIN users u ON u.id = m.sender_id
          WHERE m.{first} = v.column1 AND m.{second} = v.column2",
        MESSAGE_COLUMNS,
        values(n, 2, numbered)
    )
}

/// The reactions to the messages at `n` (room, seq) pairs, oldest first.
pub fn reactions_query(n: usize, numbered: bool) -> String {
    format!(
        "SELECT r.room_id, r.seq, r.emoji, r.user_id FROM (VALUES {}) AS v CROSS JOIN reactions r
          WHERE r.room_id = v.column1 AND r.seq = v.column2 ORDER BY r.room_id, r.seq, r.at, r.user_id",
        values(n, 2, numbered)
    )
}

/// Which of `n` (room, user) pairs are memberships, with the role.
pub fn membership_query(n: usize, numbered: bool) -> String {
    format!(
        "SELECT mb.room_id, mb.user_id, mb.role FROM (VALUES {}) AS v CROSS JOIN members mb
          WHERE mb.room_id = v.column1 AND mb.user_id = v.column2",
        values(n, 2, numbered)
    )
}

/// A message's mentions as stored: ids joined by commas, NULL for none.
pub fn ids(users: &[UserId]) -> Option<String> {
    (!users.is_empty()).then(|| users.iter().map(|u| u.to_string()).collect::<Vec<_>>().join(","))
}

/// Reaction rows (room, seq, emoji, user), oldest first, grouped onto the
/// messages of `rows` they belong to.
pub fn attach_reactions(rows: &mut [Message], reactions: Vec<(RoomId, Seq, String, i64)>) {
    let mut by_seq: BTreeMap<(RoomId, Seq), Vec<Reaction>> = BTreeMap::new();
    for (room, seq, emoji, user) in reactions {
        let list = by_seq.entry((room, seq)).or_default();
        match list.iter_mut().find(|r| r.emoji == emoji) {
            Some(r) => r.users.push(user),
            None => list.push(Reaction {
                emoji,
                users: vec![user],
            }),
        }
    }
    for m in rows {
        if let Some(list) = by_seq.remove(&(m.room, m.seq)) {
            m.reactions = list;
        }
    }
}

/// `impl_messages!(Type, Database, "row lock clause", numbered)`: the `Messages` of a
/// store type with `read` and `write` pools. The lock clause ends the
/// `SELECT` that locks a batch's rooms (`FOR UPDATE` in PostgreSQL; SQLite
/// has one writer and no such clause); `numbered` says how the batch's
/// generated statements write placeholders (see `params`).
macro_rules! impl_messages {
    ($store:ty, $db:ty, $lock:literal, $numbered:literal) => {
        #[async_trait::async_trait]
        impl $crate::server::storage::Messages for $store {
            async fn append(&self, batch: &[NewMessage]) -> Result<Vec<Appended>, StoreError> {
                // Nearly every batch is new messages only: it skips the
                // lookup of earlier sends. One that turns out to hold a
                // resend is rolled back and stored again, looking first.
                let repeats = batch.iter().map(|m| (m.sender, m.cid)).collect::<std::collections::HashSet<_>>().len() < batch.len();
                if !repeats {
                    if let Some(out) = self.append_batch(batch, false).await? {
                        return Ok(out);
                    }
                }
                self.append_batch(batch, true)
                    .await?
                    .ok_or_else(|| StoreError::Internal("a batch conflicted after its cids were looked up".into()))
            }

            async fn messages_after(&self, room: RoomId, after: Seq, limit: u32) -> Result<Vec<Message>, StoreError> {
                let q = format!(
                    "{} FROM messages m JOIN users u ON u.id = m.sender_id
                      WHERE m.room_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3",
                    messages::MESSAGE_COLUMNS
                );
                let rows: Vec<sql::MessageRow> = sqlx::query_as(&q)
                    .bind(room)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.read)
                    .await?;
                let msgs = rows.into_iter().map(sql::message).collect::<Result<Vec<_>, _>>()?;
                self.complete(room, msgs).await
            }

            async fn messages_before(&self, room: RoomId, before: Seq, limit: u32) -> Result<Vec<Message>, StoreError> {
                let q = format!(
                    "{} FROM messages m JOIN users u ON u.id = m.sender_id
                      WHERE m.room_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3",
                    messages::MESSAGE_COLUMNS
                );
                let rows: Vec<sql::MessageRow> = sqlx::query_as(&q)
                    .bind(room)
                    .bind(before)
                    .bind(i64::from(limit))
                    .fetch_all(&self.read)
                    .await?;
                let mut msgs = rows.into_iter().map(sql::message).collect::<Result<Vec<_>, _>>()?;
                msgs.reverse();
                self.complete(room, msgs).await
            }
        }

        impl $store {
            /// A page's messages with their reactions (one range read) and
            /// the messages its replies answer.
            async fn complete(&self, room: RoomId, mut msgs: Vec<Message>) -> Result<Vec<Message>, StoreError> {
                let answered = messages::padded(msgs.iter().filter_map(|m| Some((room, m.reply_to?))));
                let quotes: std::collections::HashMap<Seq, Message> = if answered.is_empty() {
                    Default::default()
                } else {
                    let q = messages::rows_query(answered.len(), ["room_id", "seq"], $numbered);
                    let rows: Vec<sql::MessageRow> =
                        answered.iter().fold(sqlx::query_as(&q), |q, (room, seq)| q.bind(*room).bind(*seq)).fetch_all(&self.read).await?;
                    rows.into_iter().map(|r| sql::message(r).map(|m| (m.seq, m))).collect::<Result<_, _>>()?
                };
                for m in msgs.iter_mut() {
                    m.quoted = m.reply_to.and_then(|t| quotes.get(&t)).map($crate::events::quote);
                }
                let (Some(first), Some(last)) = (msgs.first(), msgs.last()) else {
                    return Ok(msgs);
                };
                let reactions: Vec<(i64, i64, String, i64)> = sqlx::query_as(
                    "SELECT room_id, seq, emoji, user_id FROM reactions
                      WHERE room_id = $1 AND seq >= $2 AND seq <= $3 ORDER BY seq, at, user_id",
                )
                .bind(room)
                .bind(first.seq)
                .bind(last.seq)
                .fetch_all(&self.read)
                .await?;
                messages::attach_reactions(&mut msgs, reactions);
                Ok(msgs)
            }

            /// Stores a batch in one transaction. `careful`: the batch's
            /// (sender, cid) pairs are looked up first and a resend answers
            /// the row as stored; else none is expected, and the first one
            /// met rolls the batch back (None).
            async fn append_batch(&self, batch: &[NewMessage], careful: bool) -> Result<Option<Vec<Appended>>, StoreError> {
                // A batch costs a fixed handful of statements, however many
                // rows it holds: that is what makes group commit pay.
                let mut tx = self.write.begin().await?;
                let mut found = messages::plan::Found::default();
                // Lock the batch's rooms in id order and read their heads:
                // sends to one room from several nodes queue here, and the
                // reads below see whatever committed before us.
                let rooms = messages::padded(batch.iter().map(|m| m.room));
                let q = format!(
                    "SELECT id, head_seq, head_n, kind FROM rooms WHERE id IN ({}) ORDER BY id {}",
                    messages::params(rooms.len(), 1, $numbered),
                    $lock
                );
                let heads: Vec<(i64, i64, i64, String)> =
                    rooms.iter().fold(sqlx::query_as(&q), |q, r| q.bind(*r)).fetch_all(&mut *tx).await?;
                found.heads = heads
                    .into_iter()
                    .map(|(id, seq, n, kind)| (id, messages::plan::Head { seq, n, group: kind == "group" }))
                    .collect();
                if careful {
                    let cids = messages::padded(batch.iter().map(|m| (m.sender, m.cid)));
                    let q = messages::rows_query(cids.len(), ["sender_id", "client_msg_id"], $numbered);
                    let earlier: Vec<sql::MessageRow> = cids
                        .iter()
                        .fold(sqlx::query_as(&q), |q, (sender, cid)| q.bind(*sender).bind(cid.as_bytes().as_slice()))
                        .fetch_all(&mut *tx)
                        .await?;
                    for row in earlier {
                        let m = sql::message(row)?;
                        found.sent.insert((m.sender, m.cid), m);
                    }
                }
                // The senders' memberships, and those of whom they mention.
                let pairs = messages::padded(
                    batch
                        .iter()
                        .flat_map(|m| std::iter::once(m.sender).chain(m.mentions.iter().copied()).map(|u| (m.room, u))),
                );
                let q = messages::membership_query(pairs.len(), $numbered);
                let members: Vec<(i64, i64, String)> = pairs
                    .iter()
                    .fold(sqlx::query_as(&q), |q, (room, user)| q.bind(*room).bind(*user))
                    .fetch_all(&mut *tx)
                    .await?;
                for (room, user, role) in members {
                    found.members.insert((room, user), sql::role(&role)?);
                }
                // The messages the batch's changes and replies name, as they are now.
                let named = messages::padded(batch.iter().filter_map(|m| Some((m.room, m.target.or(m.reply_to)?))));
                if !named.is_empty() {
                    let q = messages::rows_query(named.len(), ["room_id", "seq"], $numbered);
                    let rows: Vec<sql::MessageRow> =
                        named.iter().fold(sqlx::query_as(&q), |q, (room, seq)| q.bind(*room).bind(*seq)).fetch_all(&mut *tx).await?;
                    let mut targets = rows.into_iter().map(sql::message).collect::<Result<Vec<_>, _>>()?;
                    let q = messages::reactions_query(named.len(), $numbered);
                    let reactions: Vec<(i64, i64, String, i64)> =
                        named.iter().fold(sqlx::query_as(&q), |q, (room, seq)| q.bind(*room).bind(*seq)).fetch_all(&mut *tx).await?;
                    messages::attach_reactions(&mut targets, reactions);
                    found.targets = targets.into_iter().map(|m| ((m.room, m.seq), m)).collect();
                }

                // The uploads the batch's messages carry, locked: a second
                // send naming one (from any node) waits here and finds it sent.
                let files = messages::padded(batch.iter().flat_map(|m| m.files.iter().copied()));
                if !files.is_empty() {
                    let q = format!(
                        "{} FROM files f WHERE f.id IN ({}) ORDER BY f.id {}",
                        uploads::UPLOAD_COLUMNS,
                        messages::params(files.len(), 1, $numbered),
                        $lock
                    );
                    let rows: Vec<sql::UploadRow> =
                        files.iter().fold(sqlx::query_as(&q), |q, id| q.bind(id.as_bytes().as_slice())).fetch_all(&mut *tx).await?;
                    for row in rows {
                        let upload = sql::upload(row)?;
                        found.uploads.insert(upload.file.id, upload);
                    }
                    // A file sent already may be a resend's: look first.
                    let sent = found.uploads.values().any(|u| u.state == $crate::server::storage::UploadState::Sent);
                    if sent && !careful {
                        tx.rollback().await?;
                        return Ok(None);
                    }
                }

                let direct: std::collections::HashSet<RoomId> =
                    found.heads.iter().filter(|(_, h)| !h.group).map(|(id, _)| *id).collect();
                let plan = messages::plan::plan(batch, found);
                if plan.new.is_empty() {
                    tx.commit().await?;
                    return Ok(Some(plan.out));
                }
                for chunk in messages::pow2_chunks(&plan.new) {
                    // Not careful: a resend (or a send racing in from another
                    // node) inserts nothing, and the count says so.
                    let q = format!(
                        "INSERT INTO messages (room_id, seq, id, sender_id, client_msg_id, body, created_at,
                                               kind, target, n, version, edited_at, deleted, reply_to, mentions, files)
                         VALUES {} {}",
                        messages::values(chunk.len(), 16, $numbered),
                        if careful { "" } else { "ON CONFLICT DO NOTHING" }
                    );
                    let done = chunk
                        .iter()
                        .fold(sqlx::query(&q), |q, m| {
                            q.bind(m.room)
                                .bind(m.seq)
                                .bind(m.id.as_bytes().as_slice())
                                .bind(m.sender)
                                .bind(m.cid.as_bytes().as_slice())
                                .bind(&m.body)
                                .bind(m.ts)
                                .bind(m.kind.as_str())
                                .bind(m.target)
                                .bind(m.n)
                                .bind(m.version)
                                .bind(m.edited)
                                .bind(i64::from(m.deleted))
                                .bind(m.reply_to)
                                .bind(messages::ids(&m.mentions))
                                .bind(sql::files_json(&m.files))
                        })
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() < chunk.len() as u64 {
                        tx.rollback().await?;
                        return Ok(None);
                    }
                }
                Self::write_changes(&mut tx, &plan).await?;
                // A blocked person's direct messages are hidden from whom
                // they blocked (stored and acked all the same).
                let direct_new: Vec<(RoomId, Seq, UserId)> = plan
                    .new
                    .iter()
                    .filter(|m| m.kind.is_message() && direct.contains(&m.room))
                    .map(|m| (m.room, m.seq, m.sender))
                    .collect();
                for chunk in messages::pow2_chunks(&direct_new) {
                    let q = format!(
                        "INSERT INTO hidden (user_id, room_id, seq)
                         SELECT b.user_id, v.column1, v.column2 FROM (VALUES {}) AS v
                           CROSS JOIN members mb JOIN blocks b ON b.user_id = mb.user_id AND b.blocked_id = v.column3
                          WHERE mb.room_id = v.column1 AND mb.user_id <> v.column3
                         ON CONFLICT DO NOTHING",
                        messages::values(chunk.len(), 3, $numbered)
                    );
                    chunk
                        .iter()
                        .fold(sqlx::query(&q), |q, (room, seq, sender)| q.bind(*room).bind(*seq).bind(*sender))
                        .execute(&mut *tx)
                        .await?;
                }
                let retexted: Vec<&Message> =
                    plan.changed.iter().filter(|m| plan.retexted.binary_search(&(m.room, m.seq)).is_ok()).collect();
                let fresh: Vec<&Message> = plan
                    .new
                    .iter()
                    .chain(retexted.iter().copied())
                    .filter(|m| m.kind.is_message() && !m.deleted)
                    .collect();
                Self::index(&mut tx, &retexted, &fresh).await?;
                let heads = messages::padded(plan.heads);
                let q = format!(
                    "UPDATE rooms SET head_seq = v.column2, head_n = v.column3,
                            last_activity = CASE WHEN v.column4 > last_activity THEN v.column4 ELSE last_activity END
                       FROM (VALUES {}) AS v WHERE rooms.id = v.column1",
                    messages::values(heads.len(), 4, $numbered)
                );
                heads
                    .iter()
                    .fold(sqlx::query(&q), |q, (room, (seq, n, ts))| q.bind(*room).bind(*seq).bind(*n).bind(*ts))
                    .execute(&mut *tx)
                    .await?;
                // Sending raises the sender's own marks to the row.
                let marks = messages::padded(plan.marks);
                let q = format!(
                    "UPDATE members
                        SET read_n = CASE WHEN read_seq < v.column3 THEN v.column4 ELSE read_n END,
                            read_seq = CASE WHEN read_seq < v.column3 THEN v.column3 ELSE read_seq END,
                            delivered_seq = CASE WHEN delivered_seq < v.column3 THEN v.column3 ELSE delivered_seq END
                       FROM (VALUES {}) AS v
                      WHERE members.room_id = v.column1 AND members.user_id = v.column2",
                    messages::values(marks.len(), 4, $numbered)
                );
                marks
                    .iter()
                    .fold(sqlx::query(&q), |q, ((room, user), (seq, n))| q.bind(*room).bind(*user).bind(*seq).bind(*n))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Some(plan.out))
            }

            /// Writes what a batch's events changed in messages stored
            /// before it: their state, their reactions, and for a delete the
            /// bodies of their earlier edits.
            async fn write_changes<'c>(
                tx: &mut sqlx::Transaction<'c, $db>,
                plan: &messages::plan::Plan,
            ) -> Result<(), StoreError> {
                if !plan.changed.is_empty() {
                    let changed = messages::pad(plan.changed.iter().collect());
                    let q = format!(
                        "UPDATE messages SET body = v.column3, edited_at = v.column4, deleted = v.column5, version = v.column6,
                                mentions = v.column7, files = v.column8
                           FROM (VALUES {}) AS v WHERE messages.room_id = v.column1 AND messages.seq = v.column2",
                        messages::values(changed.len(), 8, $numbered)
                    );
                    changed
                        .iter()
                        .fold(sqlx::query(&q), |q, m| {
                            q.bind(m.room)
                                .bind(m.seq)
                                .bind(&m.body)
                                .bind(m.edited)
                                .bind(i64::from(m.deleted))
                                .bind(m.version)
                                .bind(messages::ids(&m.mentions))
                                .bind(sql::files_json(&m.files))
                        })
                        .execute(&mut **tx)
                        .await?;
                }
                // Deletes are rare: a statement each, by key.
                for (room, seq) in &plan.erased {
                    sqlx::query("UPDATE messages SET body = '' WHERE room_id = $1 AND target = $2 AND kind = 'edit'")
                        .bind(*room)
                        .bind(*seq)
                        .execute(&mut **tx)
                        .await?;
                    sqlx::query("DELETE FROM reactions WHERE room_id = $1 AND seq = $2")
                        .bind(*room)
                        .bind(*seq)
                        .execute(&mut **tx)
                        .await?;
                    sqlx::query("DELETE FROM mentions WHERE room_id = $1 AND seq = $2")
                        .bind(*room)
                        .bind(*seq)
                        .execute(&mut **tx)
                        .await?;
                    // Its files' bytes go too (`files::Sweeper` removes them).
                    sqlx::query("UPDATE files SET state = 'erased' WHERE room_id = $1 AND seq = $2")
                        .bind(*room)
                        .bind(*seq)
                        .execute(&mut **tx)
                        .await?;
                }
                // Uploads now carried by a message (or by one this batch
                // deleted, whose bytes go at once): one statement each, few.
                let carried = plan.claimed.iter().map(|c| (c, "sent")).chain(plan.dropped.iter().map(|c| (c, "erased")));
                for ((id, room, seq), state) in carried {
                    sqlx::query("UPDATE files SET state = $1, room_id = $2, seq = $3 WHERE id = $4")
                        .bind(state)
                        .bind(*room)
                        .bind(*seq)
                        .bind(id.as_bytes().as_slice())
                        .execute(&mut **tx)
                        .await?;
                }
                for chunk in messages::pow2_chunks(&plan.called) {
                    let q = format!(
                        "INSERT INTO mentions (room_id, seq, user_id) VALUES {} ON CONFLICT DO NOTHING",
                        messages::values(chunk.len(), 3, $numbered)
                    );
                    chunk
                        .iter()
                        .fold(sqlx::query(&q), |q, (room, seq, user)| q.bind(*room).bind(*seq).bind(*user))
                        .execute(&mut **tx)
                        .await?;
                }
                for chunk in messages::pow2_chunks(&plan.reacted) {
                    let q = format!(
                        "INSERT INTO reactions (room_id, seq, emoji, user_id, at) VALUES {} ON CONFLICT DO NOTHING",
                        messages::values(chunk.len(), 5, $numbered)
                    );
                    chunk
                        .iter()
                        .fold(sqlx::query(&q), |q, ((room, seq, emoji, user), at)| {
                            q.bind(*room).bind(*seq).bind(emoji).bind(*user).bind(*at)
                        })
                        .execute(&mut **tx)
                        .await?;
                }
                for (room, seq, emoji, user) in &plan.unreacted {
                    sqlx::query("DELETE FROM reactions WHERE room_id = $1 AND seq = $2 AND emoji = $3 AND user_id = $4")
                        .bind(*room)
                        .bind(*seq)
                        .bind(emoji)
                        .bind(*user)
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }
        }
    };
}

pub(super) use impl_messages;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_take_keys_once_padded_to_a_power_of_two() {
        assert_eq!(padded([3, 1, 3, 2]), vec![1, 2, 3, 3]);
        assert_eq!(padded([5, 5]), vec![5]);
        assert!(padded(Vec::<i64>::new()).is_empty());
        assert_eq!(padded(0..5).len(), 8);
    }

    #[test]
    fn inserts_go_in_power_of_two_chunks_that_cover_every_row_once() {
        let lens = |n: usize| {
            let rows: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = pow2_chunks(&rows).collect();
            assert_eq!(chunks.concat(), rows);
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
        };
        assert_eq!(lens(255), vec![128, 64, 32, 16, 8, 4, 2, 1]);
        assert_eq!(lens(300), vec![128, 128, 32, 8, 4]);
        assert_eq!(lens(1), vec![1]);
        assert!(lens(0).is_empty());
    }
}
