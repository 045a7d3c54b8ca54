//! Members' delivered and read marks: raised (never lowered) by reports,
//! read back for ticks (all of a room's at once, or who read a message,
//! paged), and summed into the unread total.

use async_trait::async_trait;

use super::{MarkSummary, StoreError, StoredMarks};
use crate::model::{RoomId, UserId};
use crate::protocol::{MemberMarks, Named, Seq};

#[async_trait]
pub trait Marks: Send + Sync {
    /// Raises a member's delivered and read marks to at least the given
    /// seqs (a lower value never moves a mark back; read implies delivered).
    /// Returns the marks now stored, or None if `user` is not in `room`.
    /// The caller keeps the values within the room's head.
    async fn raise_marks(
        &self,
        room: RoomId,
        user: UserId,
        delivered: Seq,
        read: Seq,
    ) -> Result<Option<StoredMarks>, StoreError> {
        let mut stored = self.raise_marks_all(&[(room, user, delivered, read)]).await?;
        Ok(stored.pop().flatten())
    }

    /// `raise_marks` for many reports (room, user, delivered, read), in
    /// one transaction: one commit for a whole round of reports.
    async fn raise_marks_all(
        &self,
        reports: &[(RoomId, UserId, Seq, Seq)],
    ) -> Result<Vec<Option<StoredMarks>>, StoreError>;

    /// The first `limit` members of a room with their marks, in joining order.
    async fn member_marks(&self, room: RoomId, limit: u32) -> Result<Vec<MemberMarks>, StoreError>;

    /// At most `limit` members of a room whose handle or display name
    /// starts with `prefix` (or a word of the name does), ignoring case
    /// (ASCII case on SQLite), by name. `prefix` is taken literally.
    async fn find_members(&self, room: RoomId, prefix: &str, limit: u32) -> Result<Vec<Named>, StoreError>;

    /// Every member's (user, delivered, read) in a room, without names.
    async fn room_marks(&self, room: RoomId) -> Result<Vec<(UserId, Seq, Seq)>, StoreError>;

    /// What ticks need of a big room's marks, from its indexes rather than
    /// every member's row: see `MarkSummary`.
    async fn mark_summary(
        &self,
        room: RoomId,
        from: Seq,
        senders: &[UserId],
    ) -> Result<MarkSummary, StoreError>;

    /// The messages (not events) of a room with `after < seq <= upto`, as
    /// (seq, sender), oldest first.
    async fn senders(&self, room: RoomId, after: Seq, upto: Seq) -> Result<Vec<(Seq, UserId)>, StoreError>;

    /// Who sent the messages (not events) of a room with seq > `after`, once each.
    async fn senders_since(&self, room: RoomId, after: Seq) -> Result<Vec<UserId>, StoreError>;

    /// The members other than `sender` who have read `seq`, by id after
    /// `after`, at most `limit`.
    async fn read_by(
        &self,
        room: RoomId,
        seq: Seq,
        sender: UserId,
        after: UserId,
        limit: u32,
    ) -> Result<Vec<Named>, StoreError>;

    /// The user's unread messages over all their rooms (the app badge).
    async fn unread_total(&self, user: UserId) -> Result<i64, StoreError>;
}

/// `impl_marks!(Type)`: the `Marks` of a
/// store type with `read` and `write` pools (see `sql::impl_store`).
macro_rules! impl_marks {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::server::storage::Marks for $store {
            async fn raise_marks_all(&self, reports: &[(RoomId, UserId, Seq, Seq)])
                -> Result<Vec<Option<StoredMarks>>, StoreError> {
                let mut tx = self.write.begin().await?;
                let mut stored = Vec::with_capacity(reports.len());
                for &(room, user, delivered, read) in reports {
                    let delivered = delivered.max(read);
                    // Only a rise writes (and reports `rose`); a report at or below
                    // the marks just reads them.
                    // read_n follows read_seq: the n of the row there (rows have
                    // no holes up to the head, which the caller checked).
                    let raised: Option<(i64, i64, i64)> = sqlx::query_as(
                        "UPDATE members
                            SET delivered_seq = CASE WHEN delivered_seq < $3 THEN $3 ELSE delivered_seq END,
                                read_n = CASE WHEN read_seq < $4
                                              THEN COALESCE((SELECT x.n FROM messages x WHERE x.room_id = $1 AND x.seq = $4), read_n)
                                              ELSE read_n END,
                                read_seq = CASE WHEN read_seq < $4 THEN $4 ELSE read_seq END
                          WHERE room_id = $1 AND user_id = $2 AND (delivered_seq < $3 OR read_seq < $4)
                      RETURNING delivered_seq, read_seq, read_n",
                    )
                    .bind(room)
                    .bind(user)
                    .bind(delivered)
                    .bind(read)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some((delivered, read, read_n)) = raised {
                        stored.push(Some(StoredMarks { delivered, read, read_n, rose: true }));
                        continue;
                    }
                    let current: Option<(i64, i64, i64)> = sqlx::query_as(
                        "SELECT delivered_seq, read_seq, read_n FROM members WHERE room_id = $1 AND user_id = $2",
                    )
                    .bind(room)
                    .bind(user)
                    .fetch_optional(&mut *tx)
                    .await?;
                    stored.push(current.map(|(delivered, read, read_n)| StoredMarks { delivered, read, read_n, rose: false }));
                }
                tx.commit().await?;
                Ok(stored)
            }

            async fn member_marks(&self, room: RoomId, limit: u32) -> Result<Vec<MemberMarks>, StoreError> {
                let q = format!("SELECT u.id, u.display_name, m.delivered_seq, m.read_seq {} LIMIT $2", sql::MEMBERS_OF_ROOM);
                let rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(&q)
                    .bind(room)
                    .bind(i64::from(limit))
                    .fetch_all(&self.read)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(user, name, delivered, read)| MemberMarks { user, name, delivered, read })
                    .collect())
            }

            async fn find_members(&self, room: RoomId, prefix: &str, limit: u32) -> Result<Vec<Named>, StoreError> {
                // LIKE's own characters typed by a person match themselves.
                let literal: String = prefix
                    .to_lowercase()
                    .chars()
                    .flat_map(|c| match c {
                        '%' | '_' | '\\' => vec!['\\', c],
                        c => vec![c],
                    })
                    .collect();
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT u.id, u.display_name FROM members m JOIN users u ON u.id = m.user_id
                      WHERE m.room_id = $1
                        AND (LOWER(u.handle) LIKE $2 ESCAPE '\\' OR LOWER(u.display_name) LIKE $2 ESCAPE '\\'
                             OR LOWER(u.display_name) LIKE $3 ESCAPE '\\')
                      ORDER BY u.display_name, u.id LIMIT $4",
                )
                .bind(room)
                .bind(format!("{literal}%"))
                .bind(format!("% {literal}%"))
                .bind(i64::from(limit))
                .fetch_all(&self.read)
                .await?;
                Ok(rows.into_iter().map(|(user, name)| Named { user, name }).collect())
            }

            async fn room_marks(&self, room: RoomId) -> Result<Vec<(UserId, Seq, Seq)>, StoreError> {
                Ok(sqlx::query_as("SELECT user_id, delivered_seq, read_seq FROM members WHERE room_id = $1")
                    .bind(room)
                    .fetch_all(&self.read)
                    .await?)
            }

            async fn mark_summary(&self, room: RoomId, from: Seq, senders: &[UserId]) -> Result<$crate::server::storage::MarkSummary, StoreError> {
                let (members,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM members WHERE room_id = $1")
                    .bind(room)
                    .fetch_one(&self.read)
                    .await?;
                let lowest_delivered = sqlx::query_as(
                    "SELECT user_id, delivered_seq FROM members WHERE room_id = $1 ORDER BY delivered_seq LIMIT 2",
                )
                .bind(room)
                .fetch_all(&self.read)
                .await?;
                let lowest_read: Vec<(i64, i64)> =
                    sqlx::query_as("SELECT user_id, read_seq FROM members WHERE room_id = $1 ORDER BY read_seq LIMIT 2")
                        .bind(room)
                        .fetch_all(&self.read)
                        .await?;
                // Counts are asked past the lowest read mark only (every
                // sender's read tick is at least that).
                let from = from.max(lowest_read.first().map_or(0, |l: &(i64, i64)| l.1) + 1);
                let reads = sqlx::query_as(
                    "SELECT read_seq, COUNT(*) FROM members WHERE room_id = $1 AND read_seq >= $2
                      GROUP BY read_seq ORDER BY read_seq",
                )
                .bind(room)
                .bind(from)
                .fetch_all(&self.read)
                .await?;
                let q = format!(
                    "SELECT user_id, delivered_seq, read_seq FROM members WHERE room_id = $1 AND user_id IN ({})",
                    $crate::server::storage::messages::params(senders.len().max(1), 2, true)
                );
                let own = senders
                    .iter()
                    .chain(senders.is_empty().then_some(&0))
                    .fold(sqlx::query_as(&q).bind(room), |q, u| q.bind(*u))
                    .fetch_all(&self.read)
                    .await?;
                Ok($crate::server::storage::MarkSummary { members, lowest_delivered, lowest_read, reads, own })
            }

            async fn senders(&self, room: RoomId, after: Seq, upto: Seq) -> Result<Vec<(Seq, UserId)>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT seq, sender_id FROM messages
                      WHERE room_id = $1 AND seq > $2 AND seq <= $3 AND kind = 'message' ORDER BY seq",
                )
                .bind(room)
                .bind(after)
                .bind(upto)
                .fetch_all(&self.read)
                .await?)
            }

            async fn senders_since(&self, room: RoomId, after: Seq) -> Result<Vec<UserId>, StoreError> {
                let rows: Vec<(i64,)> = sqlx::query_as(
                    "SELECT DISTINCT sender_id FROM messages WHERE room_id = $1 AND seq > $2 AND kind = 'message'",
                )
                .bind(room)
                .bind(after)
                .fetch_all(&self.read)
                .await?;
                Ok(rows.into_iter().map(|r| r.0).collect())
            }

            async fn read_by(
                &self,
                room: RoomId,
                seq: Seq,
                sender: UserId,
                after: UserId,
                limit: u32,
            ) -> Result<Vec<Named>, StoreError> {
                let rows: Vec<(i64, String)> = sqlx::query_as(
                    "SELECT u.id, u.display_name FROM members m JOIN users u ON u.id = m.user_id
                      WHERE m.room_id = $1 AND m.read_seq >= $2 AND m.user_id <> $3 AND m.user_id > $4
                      ORDER BY m.user_id LIMIT $5",
                )
                .bind(room)
                .bind(seq)
                .bind(sender)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.read)
                .await?;
                Ok(rows.into_iter().map(|(user, name)| Named { user, name }).collect())
            }

            async fn unread_total(&self, user: UserId) -> Result<i64, StoreError> {
                let (total,): (i64,) = sqlx::query_as(
                    "SELECT CAST(COALESCE(SUM(r.head_n - m.read_n), 0) AS BIGINT)
                          - (SELECT COUNT(*) FROM members m JOIN messages x ON x.room_id = m.room_id
                              WHERE m.user_id = $1 AND x.deleted = 1 AND x.seq > m.read_seq)
                       FROM members m JOIN rooms r ON r.id = m.room_id WHERE m.user_id = $1",
                )
                .bind(user)
                .fetch_one(&self.read)
                .await?;
                Ok(total)
            }
        }
    };
}

pub(super) use impl_marks;
