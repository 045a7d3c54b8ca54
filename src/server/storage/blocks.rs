//! Blocking and reports: who blocked whom (a blocked person's direct
//! messages are hidden from the one who blocked them as `append` stores
//! them, see `messages`), and the messages people reported, with the text
//! each had when reported.

use async_trait::async_trait;

use super::StoreError;
use crate::model::{RoomId, User, UserId};
use crate::protocol::Seq;

#[async_trait]
pub trait Blocks: Send + Sync {
    /// `user` blocks `other` (again: no change).
    async fn block(&self, user: UserId, other: UserId, now: i64) -> Result<(), StoreError>;

    /// `user` unblocks `other`; false if they had not blocked them.
    async fn unblock(&self, user: UserId, other: UserId) -> Result<bool, StoreError>;

    /// The people `user` blocked, by id.
    async fn blocked_by(&self, user: UserId) -> Result<Vec<User>, StoreError>;

    /// Those of `users` who blocked `by` (whom `by` may not add or write to).
    async fn who_blocked(&self, by: UserId, users: &[UserId]) -> Result<Vec<UserId>, StoreError>;

    /// Stores `reporter`'s report of message `seq` of `room` with the text
    /// it has now; false if there is no such message (a second report of
    /// the same message by the same person updates the reason).
    async fn report(
        &self,
        reporter: UserId,
        room: RoomId,
        seq: Seq,
        reason: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
}

/// `impl_blocks!(Type)`: the `Blocks` of a store type with `read` and
/// `write` pools (see `sql::impl_store`).
macro_rules! impl_blocks {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::server::storage::Blocks for $store {
            async fn block(&self, user: UserId, other: UserId, now: i64) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO blocks (user_id, blocked_id, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(user)
                .bind(other)
                .bind(now)
                .execute(&self.write)
                .await?;
                Ok(())
            }

            async fn unblock(&self, user: UserId, other: UserId) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM blocks WHERE user_id = $1 AND blocked_id = $2")
                    .bind(user)
                    .bind(other)
                    .execute(&self.write)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn blocked_by(&self, user: UserId) -> Result<Vec<User>, StoreError> {
                let rows: Vec<sql::UserRow> = sqlx::query_as(
                    "SELECT u.id, u.handle, u.display_name FROM blocks b JOIN users u ON u.id = b.blocked_id
                      WHERE b.user_id = $1 ORDER BY u.id",
                )
                .bind(user)
                .fetch_all(&self.read)
                .await?;
                Ok(rows.into_iter().map(sql::user).collect())
            }

            async fn who_blocked(&self, by: UserId, users: &[UserId]) -> Result<Vec<UserId>, StoreError> {
                let blockers: Vec<(i64,)> = sqlx::query_as("SELECT user_id FROM blocks WHERE blocked_id = $1")
                    .bind(by)
                    .fetch_all(&self.read)
                    .await?;
                Ok(blockers.into_iter().map(|b| b.0).filter(|b| users.contains(b)).collect())
            }

            async fn report(
                &self,
                reporter: UserId,
                room: RoomId,
                seq: Seq,
                reason: &str,
                now: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "INSERT INTO reports (reporter_id, room_id, seq, sender_id, body, reason, created_at)
                     SELECT $1, room_id, seq, sender_id, body, $4, $5 FROM messages
                      WHERE room_id = $2 AND seq = $3 AND kind = 'message'
                     ON CONFLICT (reporter_id, room_id, seq) DO UPDATE SET reason = $4, body = excluded.body",
                )
                .bind(reporter)
                .bind(room)
                .bind(seq)
                .bind(reason)
                .bind(now)
                .execute(&self.write)
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}

pub(super) use impl_blocks;
