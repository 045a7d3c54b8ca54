//! Devices' Web Push subscriptions, each tied to the session that made it.

use async_trait::async_trait;

use super::{PushSubscription, StoreError};
use crate::model::{RoomId, UserId};

#[async_trait]
pub trait PushSubscriptions: Send + Sync {
    /// Stores a device's Web Push subscription for the user of a session
    /// (the same endpoint again replaces the old keys and owner).
    async fn save_push_subscription(
        &self,
        sub: &PushSubscription,
        session_hash: &[u8],
        now: i64,
    ) -> Result<(), StoreError>;

    /// Removes the user's subscription with this endpoint; false if there was none.
    async fn delete_push_subscription(&self, user: UserId, endpoint: &str) -> Result<bool, StoreError>;

    /// Removes a subscription the push service says is gone (404/410).
    async fn forget_push_endpoint(&self, endpoint: &str) -> Result<(), StoreError>;

    /// Every subscription of the user (one per device that enabled notifications).
    async fn push_subscriptions(&self, user: UserId) -> Result<Vec<PushSubscription>, StoreError>;

    /// Every subscription of the members of `room` but `except` (its sender),
    /// those who muted it and those who blocked the sender.
    async fn room_push_subscriptions(
        &self,
        room: RoomId,
        except: UserId,
    ) -> Result<Vec<PushSubscription>, StoreError>;
}

/// `impl_push!(Type)`: the `PushSubscriptions` of a
/// store type with `read` and `write` pools (see `sql::impl_store`).
macro_rules! impl_push {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::server::storage::PushSubscriptions for $store {
            async fn save_push_subscription(
                &self,
                sub: &PushSubscription,
                session_hash: &[u8],
                now: i64,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO push_subscriptions (user_id, session_hash, endpoint, p256dh, auth, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (endpoint) DO UPDATE SET user_id = $1, session_hash = $2, p256dh = $4, auth = $5",
                )
                .bind(sub.user)
                .bind(session_hash)
                .bind(&sub.endpoint)
                .bind(&sub.p256dh)
                .bind(&sub.auth)
                .bind(now)
                .execute(&self.write)
                .await?;
                Ok(())
            }

            async fn delete_push_subscription(&self, user: UserId, endpoint: &str) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2")
                    .bind(user)
                    .bind(endpoint)
                    .execute(&self.write)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn forget_push_endpoint(&self, endpoint: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM push_subscriptions WHERE endpoint = $1")
                    .bind(endpoint)
                    .execute(&self.write)
                    .await?;
                Ok(())
            }

            async fn push_subscriptions(&self, user: UserId) -> Result<Vec<PushSubscription>, StoreError> {
                let rows: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE user_id = $1 ORDER BY id",
                )
                .bind(user)
                .fetch_all(&self.read)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(endpoint, p256dh, auth)| PushSubscription { user, endpoint, p256dh, auth })
                    .collect())
            }

            async fn room_push_subscriptions(
                &self,
                room: RoomId,
                except: UserId,
            ) -> Result<Vec<PushSubscription>, StoreError> {
                let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
                    "SELECT p.user_id, p.endpoint, p.p256dh, p.auth
                       FROM push_subscriptions p JOIN members m ON m.user_id = p.user_id
                      WHERE m.room_id = $1 AND p.user_id <> $2 AND m.notify <> 'none'
                        AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.user_id = p.user_id AND b.blocked_id = $2)
                      ORDER BY p.user_id, p.id",
                )
                .bind(room)
                .bind(except)
                .fetch_all(&self.read)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(user, endpoint, p256dh, auth)| PushSubscription { user, endpoint, p256dh, auth })
                    .collect())
            }
        }
    };
}

pub(super) use impl_push;
