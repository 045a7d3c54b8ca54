//! Messages: the batch append (group commit) and the pages read back.
//! What a batch becomes is decided by `plan`, a pure function (dedup, seq
//! numbering in batch order, the heads and marks to set); the backend code
//! around it reads what `plan` needs and runs what it decided. The batch's
//! statements come in few shapes (`padded`, `pow2_chunks`), so they stay in
//! each connection's statement cache.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use uuid::Uuid;

use super::{Appended, NewMessage, StoreError};
use crate::model::{RoomId, UserId};
use crate::protocol::{Message, Seq};

#[async_trait]
pub trait Messages: Send + Sync {
    /// Stores a batch of messages in one transaction (group commit): for each,
    /// dedup on (sender, cid), check membership, take the room's next seq,
    /// insert, and move the sender's read mark to it. All or nothing: an
    /// error means none of them was stored.
    async fn append(&self, batch: &[NewMessage]) -> Result<Vec<Appended>, StoreError>;

    /// Up to `limit` messages with seq > `after`, oldest first.
    async fn messages_after(&self, room: RoomId, after: Seq, limit: u32) -> Result<Vec<Message>, StoreError>;

    /// The newest `limit` messages with seq < `before`, oldest first.
    async fn messages_before(
        &self,
        room: RoomId,
        before: Seq,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError>;
}

/// What a batch's transaction found before deciding: the heads of the
/// batch's rooms that exist, the messages already stored under its (sender,
/// cid) pairs (looked up only when a resend is expected), and which (room,
/// sender) pairs are memberships.
#[derive(Debug, Default)]
pub struct Found {
    pub heads: HashMap<RoomId, Seq>,
    pub sent: HashMap<(UserId, Uuid), Message>,
    pub members: HashSet<(RoomId, UserId)>,
}

/// What the transaction then writes, and what each message of the batch
/// became (in batch order).
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub out: Vec<Appended>,
    /// The messages to insert, numbered.
    pub new: Vec<Message>,
    /// Each room's new head and last activity (its last new message's time).
    pub heads: Vec<(RoomId, (Seq, i64))>,
    /// Each sender's marks, raised to their last new message in the room.
    pub marks: Vec<((RoomId, UserId), Seq)>,
}

/// Decides a batch: a (sender, cid) stored before answers the original; an
/// unknown room or a sender who is not a member stores nothing (and takes
/// no seq); the others take their room's next seqs in batch order, a cid
/// twice in one batch stored once.
pub fn plan(batch: &[NewMessage], found: Found) -> Plan {
    let Found {
        mut heads,
        mut sent,
        members,
    } = found;
    let mut out = Vec::with_capacity(batch.len());
    let mut new = Vec::new();
    for m in batch {
        if let Some(original) = sent.get(&(m.sender, m.cid)) {
            out.push(Appended::Duplicate(original.clone()));
            continue;
        }
        let Some(head) = heads.get_mut(&m.room) else {
            out.push(Appended::NoSuchRoom);
            continue;
        };
        if !members.contains(&(m.room, m.sender)) {
            out.push(Appended::NotMember);
            continue;
        }
        *head += 1;
        let stored = Message {
            room: m.room,
            seq: *head,
            id: m.id,
            sender: m.sender,
            from: m.from.clone(),
            body: m.body.clone(),
            ts: m.ts,
            cid: m.cid,
            fmt: m.fmt.clone(),
        };
        sent.insert((m.sender, m.cid), stored.clone());
        new.push(stored.clone());
        out.push(Appended::Stored(stored));
    }
    let mut rooms_now: HashMap<RoomId, (Seq, i64)> = HashMap::new();
    let mut marks: HashMap<(RoomId, UserId), Seq> = HashMap::new();
    for m in &new {
        rooms_now.insert(m.room, (m.seq, m.ts));
        marks.insert((m.room, m.sender), m.seq);
    }
    let mut heads: Vec<_> = rooms_now.into_iter().collect();
    heads.sort_unstable();
    let mut marks: Vec<_> = marks.into_iter().collect();
    marks.sort_unstable();
    Plan {
        out,
        new,
        heads,
        marks,
    }
}

/// The most messages one `INSERT` takes (7 parameters each, well within
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

/// The messages already stored for `n` (sender, cid) pairs. The pairs come
/// first (`CROSS JOIN` keeps SQLite from reordering), each looked up in the
/// unique (sender, cid) index.
pub fn dedup_query(n: usize, numbered: bool) -> String {
    format!(
        "SELECT m.room_id, m.seq, m.id, m.sender_id, u.display_name, m.body, m.created_at, m.client_msg_id
           FROM (VALUES {}) AS v CROSS JOIN messages m JOIN users u ON u.id = m.sender_id
          WHERE m.sender_id = v.column1 AND m.client_msg_id = v.column2",
        values(n, 2, numbered)
    )
}

/// Which of `n` (room, user) pairs are memberships.
pub fn membership_query(n: usize, numbered: bool) -> String {
    format!(
        "SELECT mb.room_id, mb.user_id FROM (VALUES {}) AS v CROSS JOIN members mb
          WHERE mb.room_id = v.column1 AND mb.user_id = v.column2",
        values(n, 2, numbered)
    )
}

/// `impl_messages!(Type, "row lock clause", numbered)`: the `Messages` of a
/// store type with `read` and `write` pools. The lock clause ends the
/// `SELECT` that locks a batch's rooms (`FOR UPDATE` in PostgreSQL; SQLite
/// has one writer and no such clause); `numbered` says how the batch's
/// generated statements write placeholders (see `params`).
macro_rules! impl_messages {
    ($store:ty, $lock:literal, $numbered:literal) => {
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
                let q = format!("{} WHERE m.room_id = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3", sql::MESSAGE_SELECT);
                let rows: Vec<sql::MessageRow> = sqlx::query_as(&q)
                    .bind(room)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.read)
                    .await?;
                rows.into_iter().map(sql::message).collect()
            }

            async fn messages_before(&self, room: RoomId, before: Seq, limit: u32) -> Result<Vec<Message>, StoreError> {
                let q = format!(
                    "{} WHERE m.room_id = $1 AND m.seq < $2 ORDER BY m.seq DESC LIMIT $3",
                    sql::MESSAGE_SELECT
                );
                let rows: Vec<sql::MessageRow> = sqlx::query_as(&q)
                    .bind(room)
                    .bind(before)
                    .bind(i64::from(limit))
                    .fetch_all(&self.read)
                    .await?;
                let mut msgs = rows.into_iter().map(sql::message).collect::<Result<Vec<_>, _>>()?;
                msgs.reverse();
                Ok(msgs)
            }
        }

        impl $store {
            /// Stores a batch in one transaction. `careful`: the batch's
            /// (sender, cid) pairs are looked up first and a resend answers
            /// the message as stored; else none is expected, and the first
            /// one met rolls the batch back (None).
            async fn append_batch(&self, batch: &[NewMessage], careful: bool) -> Result<Option<Vec<Appended>>, StoreError> {
                // A batch costs a fixed handful of statements, however many
                // messages it holds: that is what makes group commit pay.
                let mut tx = self.write.begin().await?;
                let mut found = messages::Found::default();
                // Lock the batch's rooms in id order and read their heads:
                // sends to one room from several nodes queue here, and the
                // dedup read below sees whatever committed before us.
                let rooms = messages::padded(batch.iter().map(|m| m.room));
                let q = format!(
                    "SELECT id, head_seq FROM rooms WHERE id IN ({}) ORDER BY id {}",
                    messages::params(rooms.len(), 1, $numbered),
                    $lock
                );
                found.heads = rooms.iter().fold(sqlx::query_as(&q), |q, r| q.bind(*r)).fetch_all(&mut *tx).await?.into_iter().collect();
                if careful {
                    let cids = messages::padded(batch.iter().map(|m| (m.sender, m.cid)));
                    let q = messages::dedup_query(cids.len(), $numbered);
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
                let pairs = messages::padded(batch.iter().map(|m| (m.room, m.sender)));
                let q = messages::membership_query(pairs.len(), $numbered);
                found.members = pairs
                    .iter()
                    .fold(sqlx::query_as(&q), |q, (room, user)| q.bind(*room).bind(*user))
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();

                let plan = messages::plan(batch, found);
                if plan.new.is_empty() {
                    tx.commit().await?;
                    return Ok(Some(plan.out));
                }
                for chunk in messages::pow2_chunks(&plan.new) {
                    // Not careful: a resend (or a send racing in from another
                    // node) inserts nothing, and the count says so.
                    let q = format!(
                        "INSERT INTO messages (room_id, seq, id, sender_id, client_msg_id, body, created_at) VALUES {} {}",
                        messages::values(chunk.len(), 7, $numbered),
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
                        })
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() < chunk.len() as u64 {
                        tx.rollback().await?;
                        return Ok(None);
                    }
                }
                let heads = messages::padded(plan.heads);
                let q = format!(
                    "UPDATE rooms SET head_seq = v.column2, last_activity = v.column3
                       FROM (VALUES {}) AS v WHERE rooms.id = v.column1",
                    messages::values(heads.len(), 3, $numbered)
                );
                heads
                    .iter()
                    .fold(sqlx::query(&q), |q, (room, (seq, ts))| q.bind(*room).bind(*seq).bind(*ts))
                    .execute(&mut *tx)
                    .await?;
                // Sending raises the sender's own marks to the message.
                let marks = messages::padded(plan.marks);
                let q = format!(
                    "UPDATE members
                        SET read_seq = CASE WHEN read_seq < v.column3 THEN v.column3 ELSE read_seq END,
                            delivered_seq = CASE WHEN delivered_seq < v.column3 THEN v.column3 ELSE delivered_seq END
                       FROM (VALUES {}) AS v
                      WHERE members.room_id = v.column1 AND members.user_id = v.column2",
                    messages::values(marks.len(), 3, $numbered)
                );
                marks
                    .iter()
                    .fold(sqlx::query(&q), |q, ((room, user), seq)| q.bind(*room).bind(*user).bind(*seq))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Some(plan.out))
            }
        }
    };
}

pub(super) use impl_messages;

#[cfg(test)]
mod tests {
    use super::*;

    fn send(room: RoomId, sender: UserId, cid: u128, ts: i64) -> NewMessage {
        NewMessage {
            fmt: None,
            room,
            sender,
            from: format!("user {sender}"),
            cid: Uuid::from_u128(cid),
            body: format!("message {cid}"),
            id: Uuid::from_u128(1_000 + cid),
            ts,
        }
    }

    fn found(heads: &[(RoomId, Seq)], members: &[(RoomId, UserId)]) -> Found {
        Found {
            heads: heads.iter().copied().collect(),
            sent: HashMap::new(),
            members: members.iter().copied().collect(),
        }
    }

    fn seqs(plan: &Plan) -> Vec<Option<Seq>> {
        plan.out
            .iter()
            .map(|a| match a {
                Appended::Stored(m) | Appended::Duplicate(m) => Some(m.seq),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_batch_takes_each_rooms_next_seqs_in_batch_order() {
        let batch = [
            send(1, 7, 1, 100),
            send(2, 8, 2, 101),
            send(1, 8, 3, 102),
            send(1, 7, 4, 103),
        ];
        let plan = plan(&batch, found(&[(1, 10), (2, 0)], &[(1, 7), (1, 8), (2, 8)]));
        assert_eq!(seqs(&plan), [Some(11), Some(1), Some(12), Some(13)]);
        assert!(plan.out.iter().all(|a| matches!(a, Appended::Stored(_))));
        assert_eq!(plan.new.len(), 4);
        // Heads: the last seq and its time; marks: each sender's last message.
        assert_eq!(plan.heads, [(1, (13, 103)), (2, (1, 101))]);
        assert_eq!(plan.marks, [((1, 7), 13), ((1, 8), 12), ((2, 8), 1)]);
    }

    #[test]
    fn a_resend_answers_the_original_and_takes_no_seq() {
        let mut known = found(&[(1, 5)], &[(1, 7)]);
        let original = plan(&[send(1, 7, 9, 50)], found(&[(1, 4)], &[(1, 7)])).new[0].clone();
        known.sent.insert((7, original.cid), original.clone());
        // An earlier send again, then a new one, then the new one twice in the batch.
        let batch = [send(1, 7, 9, 60), send(1, 7, 10, 61), send(1, 7, 10, 62)];
        let plan = plan(&batch, known);
        assert_eq!(plan.out[0], Appended::Duplicate(original));
        assert_eq!(seqs(&plan), [Some(5), Some(6), Some(6)]);
        assert!(
            matches!(plan.out[2], Appended::Duplicate(_)),
            "a cid twice in a batch is stored once"
        );
        assert_eq!(plan.new.len(), 1);
        assert_eq!(plan.heads, [(1, (6, 61))]);
    }

    #[test]
    fn strangers_and_unknown_rooms_store_nothing_and_take_no_seq() {
        let batch = [send(1, 9, 1, 10), send(3, 7, 2, 11), send(1, 7, 3, 12)];
        let plan = plan(&batch, found(&[(1, 2)], &[(1, 7)]));
        assert_eq!(plan.out[0], Appended::NotMember);
        assert_eq!(plan.out[1], Appended::NoSuchRoom);
        assert_eq!(seqs(&plan), [None, None, Some(3)]);
        assert_eq!(plan.marks, [((1, 7), 3)]);
        let nothing = super::plan(&batch[..2], found(&[(1, 2)], &[]));
        assert!(nothing.new.is_empty() && nothing.heads.is_empty() && nothing.marks.is_empty());
    }

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
