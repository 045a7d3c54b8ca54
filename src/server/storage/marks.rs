//! Members' delivered and read marks: raised (never lowered) by reports,
//! read back for ticks, and summed into the unread total.

use async_trait::async_trait;

use super::{StoreError, StoredMarks};
use crate::model::{RoomId, UserId};
use crate::protocol::{MemberMarks, Seq};

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
    ) -> Result<Option<StoredMarks>, StoreError>;

    /// Every member of a room with their marks, in joining order.
    async fn member_marks(&self, room: RoomId) -> Result<Vec<MemberMarks>, StoreError>;

    /// The user's unread messages over all their rooms (the app badge).
    async fn unread_total(&self, user: UserId) -> Result<i64, StoreError>;
}

/// `impl_marks!(Type)`: the `Marks` of a
/// store type with `read` and `write` pools (see `sql::impl_store`).
macro_rules! impl_marks {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::server::storage::Marks for $store {
            async fn raise_marks(
                &self,
                room: RoomId,
                user: UserId,
                delivered: Seq,
                read: Seq,
            ) -> Result<Option<StoredMarks>, StoreError> {
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
                .fetch_optional(&self.write)
                .await?;
                if let Some((delivered, read, read_n)) = raised {
                    return Ok(Some(StoredMarks { delivered, read, read_n, rose: true }));
                }
                let current: Option<(i64, i64, i64)> =
                    sqlx::query_as("SELECT delivered_seq, read_seq, read_n FROM members WHERE room_id = $1 AND user_id = $2")
                        .bind(room)
                        .bind(user)
                        .fetch_optional(&self.read)
                        .await?;
                Ok(current.map(|(delivered, read, read_n)| StoredMarks { delivered, read, read_n, rose: false }))
            }

            async fn member_marks(&self, room: RoomId) -> Result<Vec<MemberMarks>, StoreError> {
                let q = format!("SELECT u.id, u.display_name, m.delivered_seq, m.read_seq {}", sql::MEMBERS_OF_ROOM);
                let rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(&q)
                .bind(room)
                .fetch_all(&self.read)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(user, name, delivered, read)| MemberMarks { user, name, delivered, read })
                    .collect())
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
